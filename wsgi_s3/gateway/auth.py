"""Who is asking: the credential store, request authentication and permission checks.

A credential is a name, an access key with its secret (SigV4, SigV2 and the seed's HMAC scheme
sign with it, so the server must keep the secret itself, not a hash of it), optionally the SHA-256
of a bearer token (a bearer token is compared, never used as a key, so only its digest is kept),
permissions (read, write, delete or *) and an optional scope: buckets, and key prefixes.

Credentials come from three places, looked up in this order: the configured root key and bearer
token (`static`, never written down, so that removing them from the configuration revokes them),
the credentials file (mode 0600, reloaded when it changes), and in cluster mode the cluster's own
copy (a document replicated on every node, re-read every few seconds), which every gateway shares.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from wsgi_s3.durable import replace_file
from wsgi_s3.model.errors import StorageError
from wsgi_s3.s3 import bearer, errors, hmac_scheme, sigv2, sigv4
from wsgi_s3.s3.operations import Operation
from wsgi_s3.s3.sigv4 import SignedRequest, SigV4Result

log = logging.getLogger(__name__)

PERMISSIONS = ("read", "write", "delete")
# Listings a key scoped to prefixes may make only within them (their `prefix` parameter).
LISTINGS = frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads"})
FILE_CHECK = 1.0  # seconds between looks at the credentials file (a stat) in each worker
SHARED_REFRESH = 2.0  # seconds between reads of the cluster's credentials in each worker
# An unknown key may have just been created: look again, but not on every request with a bad key.
UNKNOWN_RECHECK = 0.5


@dataclass(frozen=True)
class Credential:
    access_key: str
    secret_key: str
    permissions: frozenset[str] = field(default_factory=lambda: frozenset({"*"}))
    name: str = ""
    buckets: frozenset[str] = frozenset()  # empty: every bucket
    prefixes: tuple[str, ...] = ()  # empty: every key
    token_digest: str = ""  # SHA-256 (hex) of its bearer token; "" without one
    created: str = ""  # ISO 8601, shown by `credentials list`

    @property
    def label(self) -> str:
        """How logs and listings name it (the access key of a credential made before names)."""
        return self.name or self.access_key

    def allows(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions

    def covers_bucket(self, bucket: str) -> bool:
        return not self.buckets or bucket in self.buckets

    def covers_key(self, bucket: str, key: str) -> bool:
        return self.covers_bucket(bucket) and (not self.prefixes or key.startswith(self.prefixes))


def credential_json(credential: Credential) -> dict:
    return {
        "name": credential.name,
        "access_key": credential.access_key,
        "secret_key": credential.secret_key,
        "permissions": sorted(credential.permissions),
        "buckets": sorted(credential.buckets),
        "prefixes": list(credential.prefixes),
        "token_sha256": credential.token_digest,
        "created": credential.created,
    }


def credential_from(entry: Mapping) -> Credential:
    return Credential(
        entry["access_key"],
        entry["secret_key"],
        frozenset(entry.get("permissions", ["*"])),
        entry.get("name", ""),
        frozenset(entry.get("buckets", [])),
        tuple(entry.get("prefixes", [])),
        entry.get("token_sha256", ""),
        entry.get("created", ""),
    )


def parse_credentials(text: str) -> list[Credential]:
    return [credential_from(entry) for entry in json.loads(text)]


def dump_credentials(credentials: Iterable[Credential]) -> str:
    return json.dumps([credential_json(credential) for credential in credentials], indent=2)


class CredentialSource(Protocol):
    """Where `wsgi-s3 credentials` keeps credentials: the file, or the cluster."""

    def load(self) -> list[Credential]: ...
    def save(self, credentials: list[Credential]) -> None: ...


class CredentialFile:
    """Credentials in a JSON file readable by the owner only (mode 0600)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def version(self) -> tuple[int, int, int] | None:
        """Changes whenever the file is replaced (each save makes a new inode); None if there is none."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def load(self) -> list[Credential]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return parse_credentials(handle.read())
        except FileNotFoundError:
            return []

    def save(self, credentials: list[Credential]) -> None:
        # A crash must leave the old file or the new one, never a torn one that locks every key out.
        replace_file(self.path, dump_credentials(credentials).encode("utf-8"))


class SharedCredentials:
    """Credentials kept in the cluster, replicated on every node as bucket records are, so that
    every gateway sees the same ones without copying files (see Backend.get_shared_document)."""

    DOCUMENT = "credentials"

    def __init__(self, backend) -> None:  # a Backend; not imported here, the gateway floor sits above it
        self.backend = backend

    def load(self) -> list[Credential]:
        text = self.backend.get_shared_document(self.DOCUMENT)
        return parse_credentials(text) if text else []

    def save(self, credentials: list[Credential]) -> None:
        self.backend.put_shared_document(self.DOCUMENT, dump_credentials(credentials))


class CredentialStore:
    """Every credential a gateway accepts: `static` ones, the file's, and the cluster's (`shared`)."""

    def __init__(self, path: str, static: Iterable[Credential] = (), shared: SharedCredentials | None = None) -> None:
        self.path = path
        self.file = CredentialFile(path)
        self.static = list(static)
        self.shared = shared
        self._file_version: tuple[int, int, int] | None = None
        self._from_file: list[Credential] = []
        self._from_cluster: list[Credential] = []
        self._file_checked = self._shared_read = float("-inf")
        self._by_key: dict[str, Credential] = {}
        self._by_token: dict[str, Credential] = {}
        self._all: list[Credential] = []
        self.reload()

    def reload(self) -> None:
        """Read the file if it was replaced, and the cluster's copy."""
        self._reload(read_shared=True)

    def _reload(self, read_shared: bool) -> None:
        now = time.monotonic()
        self._file_checked = now
        version = self.file.version()
        if version != self._file_version:
            self._from_file, self._file_version = self.file.load(), version
        if read_shared and self.shared is not None:
            self._shared_read = now
            try:
                self._from_cluster = self.shared.load()
            except StorageError as exc:
                # Until the cluster answers again, the credentials it gave last stay in force.
                log.warning("could not read the cluster's credentials (%s); keeping the %d read before", exc, len(self._from_cluster))
        # Later wins: a static key is never shadowed by one written down.
        everything = [*self._from_cluster, *self._from_file, *self.static]
        self._by_key = {c.access_key: c for c in everything if c.access_key}
        self._by_token = {c.token_digest: c for c in everything if c.token_digest}
        self._all = [c for c in everything if self._by_key.get(c.access_key) is c or self._by_token.get(c.token_digest) is c]

    def _refresh(self, unknown: bool) -> None:
        now = time.monotonic()
        file_due = unknown or now - self._file_checked > FILE_CHECK
        shared_due = self.shared is not None and now - self._shared_read > (UNKNOWN_RECHECK if unknown else SHARED_REFRESH)
        if file_due or shared_due:
            self._reload(shared_due)

    def get(self, access_key: str) -> Credential | None:
        """The credential of an access key; a new one is seen at once, a revoked one is gone
        within FILE_CHECK (the file) or SHARED_REFRESH (the cluster) seconds."""
        self._refresh(access_key not in self._by_key)
        return self._by_key.get(access_key)

    def by_token(self, token: str) -> Credential | None:
        digest = bearer.digest(token)
        self._refresh(digest not in self._by_token)
        return self._by_token.get(digest)

    def all(self) -> list[Credential]:
        self.reload()
        return list(self._all)

    def add(self, credential: Credential) -> None:
        """Add (or replace, by access key) a credential in the file."""
        kept = [c for c in self.file.load() if c.access_key != credential.access_key]
        self.file.save([*kept, credential])
        self.reload()

    def __len__(self) -> int:
        return len(self.all())


def credential_store(
    path: str, root_access_key: str = "", root_secret_key: str = "", auth_token: str = "", shared: SharedCredentials | None = None
) -> CredentialStore:
    """The credentials file with the configured root key pair and bearer token (if any) beside it."""
    static = [Credential(root_access_key, root_secret_key, name="root")] if root_access_key else []
    if auth_token:
        # The seed's -auth_token: one bearer token with every permission, kept only as its digest.
        static.append(Credential("", "", name="auth_token", token_digest=bearer.digest(auth_token)))
    return CredentialStore(path, static, shared)


def generate_credential() -> Credential:
    """A new key pair in AWS's shapes: 20 upper-case alphanumerics, 40 base64-ish characters."""
    access = "WS3" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
    return Credential(access, secret, created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


@dataclass(frozen=True)
class Principal:
    """The authenticated caller; `credential` is None for an allowed anonymous request."""

    credential: Credential | None
    signature: SigV4Result | None = None

    def check_key(self, bucket: str, key: str) -> None:
        """Refuse an object outside the caller's scope (a copy source, a key of DeleteObjects)."""
        if self.credential is not None and not self.credential.covers_key(bucket, key):
            raise errors.AccessDenied()


_CLAIMED_KEY = re.compile(r"(?:Credential=|AccessKey=|^AWS )([A-Za-z0-9]{1,128})")


def _claimed_key(request: SignedRequest) -> str:
    """The access key id a failed request names (not a secret; it helps to trace who failed)."""
    match = _CLAIMED_KEY.search(request.headers.get("authorization", ""))
    if match:
        return match.group(1)
    query = dict(request.query)
    claimed = query.get("X-Amz-Credential", "").split("/")[0] or query.get("AWSAccessKeyId", "")
    return claimed if re.fullmatch(r"[A-Za-z0-9]{1,128}", claimed) else "-"


def _scheme(request: SignedRequest) -> str:
    authorization = request.headers.get("authorization", "")
    if authorization:
        return re.sub(r"[^A-Za-z0-9-]", "", authorization.split(" ", 1)[0])[:32] or "-"
    return "presigned" if request.query else "anonymous"


def authentication_failed(request: SignedRequest, error: errors.S3Error) -> None:
    """The one place where an authentication failure is decided and recorded (log line, and the
    auth-failure counter of observability/metrics.py when it is added): never a secret, a
    signature or a query string (which carries presigned signatures) is written."""
    log.warning(
        "authentication failed: %s %s scheme=%s access_key=%s error=%s",
        request.method, request.raw_path, _scheme(request), _claimed_key(request), error.code,
    )


class Authenticator:
    def __init__(self, credentials: CredentialStore, enforced_region: str | None = None, allow_anonymous: bool = False) -> None:
        self.credentials = credentials
        # None accepts a signature for any region, as clients configured for another region expect.
        self.enforced_region = enforced_region
        self.allow_anonymous = allow_anonymous

    def authenticate(self, request: SignedRequest, virtual_bucket: str | None = None) -> Principal:
        """Verify whichever signature or token the request carries; `virtual_bucket` is the bucket
        taken from the Host header (SigV2 signs it as part of the resource)."""
        try:
            return self._verify(request, virtual_bucket)
        except errors.S3Error as exc:
            authentication_failed(request, exc)
            raise

    def _verify(self, request: SignedRequest, virtual_bucket: str | None) -> Principal:
        now = datetime.now(timezone.utc)
        # The credential whose secret verified the signature, kept so that a revoke between the
        # lookup and the answer cannot leave the request without one (anonymous).
        found: list[Credential] = []

        def secret_for(access_key: str) -> str | None:
            credential = self.credentials.get(access_key)
            if credential is None or not credential.secret_key:
                return None
            found.append(credential)
            return credential.secret_key

        headers = request.headers
        if sigv4.has_v4_header(request) or sigv4.is_presigned_v4(request):
            result = sigv4.verify(request, secret_for, now, region=self.enforced_region)
            return Principal(found[-1], result)
        if sigv2.has_v2_header(request) or sigv2.is_presigned_v2(request):
            sigv2.verify(request, secret_for, now, virtual_bucket=virtual_bucket)
            return Principal(found[-1])
        if hmac_scheme.has_hmac(headers):
            hmac_scheme.verify(request, secret_for, now)
            return Principal(found[-1])
        if bearer.has_bearer(headers):
            credential = self.credentials.by_token(bearer.parse(headers))
            if credential is None:
                raise errors.AccessDenied("The bearer token is not valid (unknown or revoked).")
            return Principal(credential)
        if "authorization" in headers:
            raise errors.AccessDenied("Unsupported authorization type")
        if self.allow_anonymous:
            return Principal(None)
        raise errors.AccessDenied()

    def authorize(self, principal: Principal, operation: Operation, query: Mapping[str, str], bucket: str = "", key: str = "") -> None:
        """Refuse what the caller may not do; runs before the handler looks at any bucket or object,
        so that a refusal tells nothing about them (a copy source's size, say)."""
        credential = principal.credential
        if credential is None:
            # Anonymous access (when allowed) reads objects and listings, never the list of buckets
            # nor the uploads in progress.
            if operation.permission != "read" or operation.name in ("ListBuckets", "ListMultipartUploads"):
                raise errors.AccessDenied()
            # Overrides would let anyone serve a stored object as, say, text/html.
            if any(name.startswith("response-") for name in query):
                raise errors.InvalidRequest("Request specific response headers cannot be used for anonymous GET requests.")
            return
        needed = [operation.permission, *([operation.source_permission] if operation.source_permission else [])]
        if not all(credential.allows(permission) for permission in needed):
            raise errors.AccessDenied()
        if bucket and not _in_scope(credential, operation, query, bucket, key):
            raise errors.AccessDenied()


def _in_scope(credential: Credential, operation: Operation, query: Mapping[str, str], bucket: str, key: str) -> bool:
    """Whether a request on `bucket` (and `key`) stays within the credential's buckets and prefixes.
    A copy source and the keys of DeleteObjects are checked where they are read (Principal.check_key)."""
    if not credential.covers_bucket(bucket):
        return False
    if not credential.prefixes or key:
        return credential.covers_key(bucket, key) if key else True
    if operation.name in LISTINGS:
        return query.get("prefix", "").startswith(credential.prefixes)
    # Other bucket-wide reads (location, versioning) are harmless; bucket-wide writes are not the
    # business of a key confined to some prefixes, except DeleteObjects, checked key by key.
    return operation.permission == "read" or operation.name == "DeleteObjects"
