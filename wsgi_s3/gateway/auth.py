"""Who is asking: the credential store, request authentication and permission checks."""

from __future__ import annotations

import json
import os
import secrets
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from wsgi_s3.durable import replace_file
from wsgi_s3.s3 import errors, sigv2, sigv4
from wsgi_s3.s3.operations import Operation
from wsgi_s3.s3.sigv4 import SignedRequest, SigV4Result

PERMISSIONS = ("read", "write", "delete")


@dataclass(frozen=True)
class Credential:
    access_key: str
    secret_key: str
    permissions: frozenset[str] = field(default_factory=lambda: frozenset({"*"}))

    def allows(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions


@dataclass(frozen=True)
class Principal:
    """The authenticated caller; `credential` is None for an allowed anonymous request."""

    credential: Credential | None
    signature: SigV4Result | None = None


class CredentialStore:
    """Access keys and their secrets and permissions, kept in a JSON file readable by the owner only,
    plus `static` ones (the root key from the environment or an ini file), which are never written
    down, so that removing them from the configuration revokes them."""

    def __init__(self, path: str, static: Iterable[Credential] = ()) -> None:
        self.path = path
        self.static = {credential.access_key: credential for credential in static}
        self._by_key: dict[str, Credential] = {}
        self._mtime = 0.0
        self._checked = time.monotonic()
        self.reload()

    def reload(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            self._by_key, self._mtime = {}, 0.0
            return
        if mtime == self._mtime:
            return
        with open(self.path, encoding="utf-8") as handle:
            entries = json.load(handle)
        self._by_key = {
            entry["access_key"]: Credential(entry["access_key"], entry["secret_key"], frozenset(entry.get("permissions", ["*"])))
            for entry in entries
        }
        self._mtime = mtime

    def get(self, access_key: str) -> Credential | None:
        if access_key in self.static:
            return self.static[access_key]
        # Keys added by `wsgi-s3 credentials create` take effect at once (an unknown key looks again),
        # revoked ones within a second.
        if access_key not in self._by_key or time.monotonic() - self._checked > 1.0:
            self._checked = time.monotonic()
            self.reload()
        return self._by_key.get(access_key)

    def all(self) -> list[Credential]:
        self.reload()
        return [*self.static.values(), *self._by_key.values()]

    def add(self, credential: Credential) -> None:
        self.reload()
        self._by_key[credential.access_key] = credential
        entries = [
            {"access_key": c.access_key, "secret_key": c.secret_key, "permissions": sorted(c.permissions)}
            for c in self._by_key.values()
        ]
        # A crash must leave the old file or the new one, never a torn one that locks every key out.
        replace_file(self.path, json.dumps(entries, indent=2).encode("utf-8"))
        self._mtime = os.stat(self.path).st_mtime

    def __len__(self) -> int:
        return len(self.static) + len(self._by_key)


def credential_store(path: str, root_access_key: str = "", root_secret_key: str = "") -> CredentialStore:
    """The credentials file with the configured root key pair (if any) beside it."""
    root = [Credential(root_access_key, root_secret_key)] if root_access_key else []
    return CredentialStore(path, root)


def generate_credential() -> Credential:
    """A new key pair in AWS's shapes: 20 upper-case alphanumerics, 40 base64-ish characters."""
    access = "WS3" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
    return Credential(access, secret)


class Authenticator:
    def __init__(self, credentials: CredentialStore, enforced_region: str | None = None, allow_anonymous: bool = False) -> None:
        self.credentials = credentials
        # None accepts a signature for any region, as clients configured for another region expect.
        self.enforced_region = enforced_region
        self.allow_anonymous = allow_anonymous

    def _secret(self, access_key: str) -> str | None:
        credential = self.credentials.get(access_key)
        return credential.secret_key if credential else None

    def authenticate(self, request: SignedRequest, virtual_bucket: str | None = None) -> Principal:
        """Verify whichever signature the request carries; `virtual_bucket` is the bucket taken
        from the Host header (SigV2 signs it as part of the resource)."""
        now = datetime.now(timezone.utc)
        if sigv4.has_v4_header(request) or sigv4.is_presigned_v4(request):
            result = sigv4.verify(request, self._secret, now, region=self.enforced_region)
            return Principal(self.credentials.get(result.access_key), result)
        if sigv2.has_v2_header(request) or sigv2.is_presigned_v2(request):
            access_key = sigv2.verify(request, self._secret, now, virtual_bucket=virtual_bucket)
            return Principal(self.credentials.get(access_key))
        if "authorization" in request.headers:
            raise errors.AccessDenied("Unsupported authorization type")
        if self.allow_anonymous:
            return Principal(None)
        raise errors.AccessDenied()

    def authorize(self, principal: Principal, operation: Operation, query: Mapping[str, str]) -> None:
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
