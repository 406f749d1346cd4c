"""`wsgi-s3 credentials create | list | show | rotate | revoke`: the credentials a gateway accepts.

They are kept in a CredentialSource: the credentials file of an embedded server (mode 0600, which
a running server re-reads within a second), or, for a cluster, the cluster itself (every gateway
re-reads it within seconds). A secret is printed once, when it is made, and never again.
"""

from __future__ import annotations

import os
import re
from argparse import Namespace
from dataclasses import dataclass, replace

from wsgi_s3.config import Settings
from wsgi_s3.gateway.auth import PERMISSIONS, Credential, CredentialFile, CredentialSource, SharedCredentials, generate_credential
from wsgi_s3.model.errors import StorageError
from wsgi_s3.s3 import bearer
from wsgi_s3.s3.errors import InvalidBucketName
from wsgi_s3.s3.names import check_bucket_name

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class AdminError(ValueError):
    """A request the operator has to correct (unknown name, bad permission, ...)."""


@dataclass(frozen=True)
class Issued:
    """A credential and the secrets just made for it: shown once, then only the digest of the token remains."""

    credential: Credential
    token: str | None = None


def parse_permissions(text: str) -> frozenset[str]:
    permissions = frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = permissions - set(PERMISSIONS) - {"*"}
    if not permissions or unknown:
        raise AdminError(f"permissions {text!r}: use a comma-separated list of {', '.join(PERMISSIONS)}, or *")
    return permissions


def parse_buckets(text: str) -> frozenset[str]:
    buckets = frozenset(b.strip() for b in text.split(",") if b.strip())
    for name in buckets:
        try:
            check_bucket_name(name)
        except InvalidBucketName:
            raise AdminError(f"{name!r} is not a valid bucket name") from None
    return buckets


def parse_prefixes(text: str) -> tuple[str, ...]:
    # A prefix is matched as the start of a key, exactly as written ("logs/" does not cover "logs2").
    return tuple(sorted({p for p in (part.strip() for part in text.split(",")) if p}))


class CredentialAdmin:
    def __init__(self, source: CredentialSource) -> None:
        self.source = source

    def list(self) -> list[Credential]:
        return sorted(self.source.load(), key=lambda c: c.label)

    def find(self, name: str) -> Credential:
        """By name, or by access key."""
        for credential in self.source.load():
            if name in (credential.name, credential.access_key):
                return credential
        raise AdminError(f"no credential named {name!r}")

    def create(
        self, name: str, permissions: frozenset[str], buckets: frozenset[str] = frozenset(), prefixes: tuple[str, ...] = (), token: bool = False
    ) -> Issued:
        if not _NAME.fullmatch(name):
            raise AdminError(f"name {name!r}: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        existing = self.source.load()
        if any(name in (c.name, c.access_key) for c in existing):
            raise AdminError(f"a credential named {name!r} exists already (rotate or revoke it)")
        fresh = generate_credential()
        new_token = bearer.new_token() if token else None
        credential = replace(
            fresh, permissions=permissions, name=name, buckets=buckets, prefixes=prefixes, token_digest=bearer.digest(new_token) if new_token else ""
        )
        self.source.save([*existing, credential])
        return Issued(credential, new_token)

    def rotate(self, name: str) -> Issued:
        """A new secret (and a new bearer token if it had one) for the same access key; the old
        ones stop working as soon as the servers see the change."""
        old = self.find(name)
        new_token = bearer.new_token() if old.token_digest else None
        rotated = replace(
            old, secret_key=generate_credential().secret_key, token_digest=bearer.digest(new_token) if new_token else ""
        )
        self.source.save([rotated if c.access_key == old.access_key else c for c in self.source.load()])
        return Issued(rotated, new_token)

    def revoke(self, name: str) -> Credential:
        gone = self.find(name)
        self.source.save([c for c in self.source.load() if c.access_key != gone.access_key])
        return gone


def describe(credential: Credential) -> str:
    """Everything about a credential but its secrets."""
    return "\n".join(
        [
            f"Name: {credential.label}",
            f"Access Key: {credential.access_key}",
            f"Permissions: {','.join(sorted(credential.permissions))}",
            f"Buckets: {','.join(sorted(credential.buckets)) or '(all)'}",
            f"Prefixes: {','.join(credential.prefixes) or '(all)'}",
            f"Bearer Token: {'yes (only its SHA-256 is kept)' if credential.token_digest else 'no'}",
            f"Created: {credential.created or '-'}",
        ]
    )


def list_line(credential: Credential) -> str:
    scope = [",".join(sorted(credential.buckets)) or "*", ",".join(credential.prefixes) or "*"]
    return "\t".join([credential.label, credential.access_key, ",".join(sorted(credential.permissions)), *scope])


def issued_text(issued: Issued) -> str:
    """What `create` and `rotate` print: the secrets, this once."""
    lines = [f"Name: {issued.credential.label}", f"Access Key: {issued.credential.access_key}", f"Secret Key: {issued.credential.secret_key}"]
    if issued.token:
        lines.append(f"Bearer Token: {issued.token}")
    lines.append("Keep the secret now: it is not shown again.")
    return "\n".join(lines)


def source_for(settings: Settings) -> CredentialSource:
    """The cluster when nodes are configured (a gateway's settings), else the credentials file."""
    if settings.nodes:
        if not settings.backend_auth_token:
            raise AdminError("the cluster's credentials need its token: WSGI_S3_BACKEND_AUTH_TOKEN or backend_auth_token in an ini file")
        from wsgi_s3.wsgi import cluster_backend

        try:
            return SharedCredentials(cluster_backend(settings))
        except ValueError as error:  # a node list, N, W or R that cannot work
            raise AdminError(str(error)) from None
    os.makedirs(os.path.dirname(os.path.abspath(settings.credentials_path)), mode=0o700, exist_ok=True)
    return CredentialFile(settings.credentials_path)


def run(settings: Settings, args: Namespace) -> int:
    """One `wsgi-s3 credentials` command; prints its answer."""
    try:
        return _run(CredentialAdmin(source_for(settings)), args)
    except StorageError as error:  # too few nodes answered: a change may have reached only some of them
        raise AdminError(f"the cluster: {error} (run the command again once the nodes answer)") from None


def _run(admin: CredentialAdmin, args: Namespace) -> int:
    if args.action == "list":
        for credential in admin.list():
            print(list_line(credential))
        return 0
    if not args.name:
        raise AdminError(f"credentials {args.action} needs a NAME")
    if args.action == "create":
        issued = admin.create(args.name, parse_permissions(args.permissions), parse_buckets(args.buckets), parse_prefixes(args.prefixes), args.token)
        print(issued_text(issued))
    elif args.action == "show":
        print(describe(admin.find(args.name)))
    elif args.action == "rotate":
        print(issued_text(admin.rotate(args.name)))
    else:
        print(f"revoked {admin.revoke(args.name).label}")
    return 0
