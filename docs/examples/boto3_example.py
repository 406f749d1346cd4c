"""Use wsgi-s3 from Python with boto3: create a bucket, upload (one PUT and a multipart upload), read,
list, share a presigned URL, then clean up.

    pip install boto3
    wsgi-s3 serve            # prints the root key pair on its first start
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...
    python3 boto3_example.py

S3_ENDPOINT (default http://127.0.0.1:9000) and S3_BUCKET (default example-bucket) choose the server
and the bucket; the bucket is created and removed again.
"""

import os
import tempfile
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig

endpoint = os.environ.get("S3_ENDPOINT", "http://127.0.0.1:9000")
bucket = os.environ.get("S3_BUCKET", "example-bucket")
# Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or ~/.aws), as for Amazon S3.
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello from boto3", ContentType="text/plain")
print("got:", s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read().decode())

# upload_file splits a file into parts (here from 5 MiB on, S3's smallest part) and sends them in parallel.
with tempfile.NamedTemporaryFile() as big:
    big.write(os.urandom(12 * 1024 * 1024))
    big.flush()
    s3.upload_file(big.name, bucket, "big.bin", Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
print("multipart ETag:", s3.head_object(Bucket=bucket, Key="big.bin")["ETag"])

for item in s3.list_objects_v2(Bucket=bucket)["Contents"]:
    print("listed:", item["Key"], item["Size"])

# A presigned URL lets anyone holding it GET the object, without credentials, for an hour.
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"}, ExpiresIn=3600)
with urllib.request.urlopen(url) as response:
    print("presigned:", response.read().decode())

for key in ("hello.txt", "big.bin"):
    s3.delete_object(Bucket=bucket, Key=key)
s3.delete_bucket(Bucket=bucket)
print("cleaned up", bucket)
