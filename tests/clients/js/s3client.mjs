// A small S3 command line over the AWS SDK for JavaScript v3, with the SDK's default settings except
// the endpoint (path style) and, for https, an agent that trusts the test's CA.
// Each command prints one JSON document on stdout, for tests/clients/test_clients.py.
//
//   node s3client.mjs <command> --endpoint URL [--ca FILE] [--bucket B] [--key K] [--file F] [--dir D]
//   commands: mb, rb, put, put-multipart (lib-storage Upload, 5 MiB parts), put-dir, ls, get, get-dir,
//             cp (--key to --to, inside the bucket), rm
//
// Credentials and region come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION.

import { createReadStream, mkdirSync, readdirSync, readFileSync, statSync, createWriteStream } from "node:fs";
import https from "node:https";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";

import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: {
    endpoint: { type: "string" },
    ca: { type: "string" },
    bucket: { type: "string" },
    key: { type: "string" },
    file: { type: "string" },
    dir: { type: "string" },
    to: { type: "string" },
  },
});

const config = { endpoint: opts.endpoint, forcePathStyle: true };
if (opts.ca) {
  config.requestHandler = { httpsAgent: new https.Agent({ ca: readFileSync(opts.ca), keepAlive: true }) };
}
const s3 = new S3Client(config);
const Bucket = opts.bucket;

function filesUnder(root) {
  const found = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(full));
    else found.push(full);
  }
  return found;
}

async function listAll() {
  const objects = [];
  let ContinuationToken;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken }));
    objects.push(...(page.Contents ?? []).map(({ Key, Size, ETag }) => ({ Key, Size, ETag })));
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return objects;
}

async function put(key, file) {
  const body = createReadStream(file);
  const result = await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentLength: statSync(file).size }));
  return { Key: key, ETag: result.ETag };
}

async function get(key, file) {
  mkdirSync(path.dirname(file), { recursive: true });
  const result = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
  await pipeline(result.Body, createWriteStream(file));
  return { Key: key, ETag: result.ETag, ContentLength: result.ContentLength };
}

const commands = {
  async mb() {
    await s3.send(new CreateBucketCommand({ Bucket }));
    return { created: Bucket };
  },
  async rb() {
    await s3.send(new DeleteBucketCommand({ Bucket }));
    return { removed: Bucket };
  },
  put: () => put(opts.key, opts.file),
  async "put-multipart"() {
    const upload = new Upload({
      client: s3,
      params: { Bucket, Key: opts.key, Body: createReadStream(opts.file) },
      partSize: 5 * 1024 * 1024,
      leavePartsOnError: false,
    });
    const result = await upload.done();
    return { Key: opts.key, ETag: result.ETag };
  },
  async "put-dir"() {
    const uploaded = [];
    for (const file of filesUnder(opts.dir)) {
      const key = (opts.key ?? "") + path.relative(opts.dir, file).split(path.sep).join("/");
      uploaded.push(await put(key, file));
    }
    return { uploaded };
  },
  ls: async () => ({ objects: await listAll() }),
  get: () => get(opts.key, opts.file),
  async "get-dir"() {
    const prefix = opts.key ?? "";
    const downloaded = [];
    for (const { Key } of await listAll()) {
      if (Key.startsWith(prefix)) downloaded.push(await get(Key, path.join(opts.dir, ...Key.slice(prefix.length).split("/"))));
    }
    return { downloaded };
  },
  async cp() {
    const CopySource = `${Bucket}/${opts.key.split("/").map(encodeURIComponent).join("/")}`;
    const result = await s3.send(new CopyObjectCommand({ Bucket, Key: opts.to, CopySource }));
    return { Key: opts.to, ETag: result.CopyObjectResult?.ETag };
  },
  // Without --key: every object in the bucket (DeleteObjects, a page at a time).
  async rm() {
    const keys = opts.key !== undefined ? [opts.key] : (await listAll()).map(({ Key }) => Key);
    const deleted = [];
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((Key) => ({ Key }));
      const result = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch } }));
      if (result.Errors?.length) throw new Error("DeleteObjects failed: " + JSON.stringify(result.Errors));
      deleted.push(...(result.Deleted ?? []).map(({ Key }) => Key));
    }
    return { deleted };
  },
};

const command = commands[positionals[0]];
if (!command) {
  console.error(`usage: node s3client.mjs <${Object.keys(commands).join("|")}> --endpoint URL [--ca FILE] ...`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await command()));
} catch (error) {
  console.error(`${positionals[0]} failed: ${error.name}: ${error.message}`);
  if (error.$metadata) console.error(JSON.stringify(error.$metadata));
  process.exit(1);
} finally {
  s3.destroy();
}
