"""`Authorization: Bearer <token>`: parsing, and the digest under which a token is stored.

A bearer token is a random secret that needs no signature from the client, so the server never has
to know it: it keeps the SHA-256 of each token and compares digests. Tokens are long random strings
(256 bits), so an unsalted fast hash is enough: there is no dictionary to try.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from wsgi_s3.s3 import errors

PREFIX = "Bearer "
TOKEN_PREFIX = "ws3_"  # recognisable in a leaked-secrets scan, as GitHub's ghp_ is


def has_bearer(headers: Mapping[str, str]) -> bool:
    return headers.get("authorization", "")[: len(PREFIX)].lower() == PREFIX.lower()


def parse(headers: Mapping[str, str]) -> str:
    """The token of a Bearer Authorization header (scheme name case-insensitive, as RFC 6750 says)."""
    token = headers["authorization"][len(PREFIX) :].strip()
    # RFC 6750's b64token alphabet; anything else (spaces, control characters) is no token of ours.
    if not token or len(token) > 512 or not all(c.isascii() and (c.isalnum() or c in "-._~+/=") for c in token):
        raise errors.AccessDenied("The bearer token is malformed.")
    return token


def digest(token: str) -> str:
    """What is stored and compared instead of the token itself."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)
