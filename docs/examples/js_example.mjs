// Use wsgi-s3 from Node.js with the AWS SDK for JavaScript v3: create a bucket, upload (one PUT and a
// multipart upload), read, list, then clean up.
//
//   npm install @aws-sdk/client-s3 @aws-sdk/lib-storage
//   wsgi-s3 serve            # prints the root key pair on its first start
//   export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...
//   node js_example.mjs
//
// S3_ENDPOINT (default http://127.0.0.1:9000) and S3_BUCKET (default example-bucket) choose the server
// and the bucket; the bucket is created and removed again.

import { randomBytes } from "node:crypto";

import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const endpoint = process.env.S3_ENDPOINT ?? "http://127.0.0.1:9000";
const Bucket = process.env.S3_BUCKET ?? "example-bucket";
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or ~/.aws), as for Amazon S3.
// Path-style addressing (http://host/bucket/key): no DNS name per bucket needed.
const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });

await s3.send(new CreateBucketCommand({ Bucket }));
await s3.send(new PutObjectCommand({ Bucket, Key: "hello.txt", Body: "hello from the JS SDK", ContentType: "text/plain" }));
const got = await s3.send(new GetObjectCommand({ Bucket, Key: "hello.txt" }));
console.log("got:", await got.Body.transformToString());

// lib-storage's Upload sends a large body as a multipart upload (5 MiB parts, S3's smallest).
await new Upload({ client: s3, params: { Bucket, Key: "big.bin", Body: randomBytes(12 * 1024 * 1024) }, partSize: 5 * 1024 * 1024 }).done();
console.log("multipart ETag:", (await s3.send(new HeadObjectCommand({ Bucket, Key: "big.bin" }))).ETag);

for (const item of (await s3.send(new ListObjectsV2Command({ Bucket }))).Contents) {
  console.log("listed:", item.Key, item.Size);
}

for (const Key of ["hello.txt", "big.bin"]) {
  await s3.send(new DeleteObjectCommand({ Bucket, Key }));
}
await s3.send(new DeleteBucketCommand({ Bucket }));
console.log("cleaned up", Bucket);
