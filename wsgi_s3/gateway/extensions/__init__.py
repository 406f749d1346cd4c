"""The seed's non-S3 endpoints and the gateway's wrappers around them, one module each."""

from __future__ import annotations

from wsgi_s3.gateway.extensions import batch, presign, uploads
from wsgi_s3.gateway.extensions.api import Endpoint
from wsgi_s3.s3.operations import Operation

# Path -> endpoint. The permission of each operation is checked per object, not here.
ENDPOINTS: dict[str, Endpoint] = {
    "/presign": Endpoint(Operation("Presign", "read"), presign.presign),
    "/batch": Endpoint(Operation("Batch", "write"), batch.batch),
    "/concurrent-upload/initiate": Endpoint(Operation("ConcurrentUploadInitiate", "write"), uploads.initiate),
    "/concurrent-upload/progress": Endpoint(Operation("ConcurrentUploadProgress", "read"), uploads.progress),
    "/concurrent-upload/complete": Endpoint(Operation("ConcurrentUploadComplete", "write"), uploads.complete),
    "/concurrent-upload/abort": Endpoint(Operation("ConcurrentUploadAbort", "delete"), uploads.abort),
}
