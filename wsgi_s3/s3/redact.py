"""Request URIs as logs may carry them: presigned URLs minus what would let a reader replay them."""

from __future__ import annotations

from urllib.parse import unquote_plus

# Query parameters that authorise on their own (SigV4 and SigV2 signatures, a session token);
# the credential scope and access key id are not secret and help to trace a request.
SECRET_PARAMETERS = frozenset({"x-amz-signature", "signature", "x-amz-security-token"})
REDACTED = "REDACTED"


def redact_uri(uri: str) -> str:
    """`uri` (path and query, as sent) with the values of SECRET_PARAMETERS replaced by REDACTED."""
    path, sep, query = uri.partition("?")
    if not sep:
        return uri
    pairs = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        # Compared as a server decodes it, so that "X-Amz-Signatur%65" is caught too.
        if equals and unquote_plus(name).lower() in SECRET_PARAMETERS:
            pair = f"{name}={REDACTED}"
        pairs.append(pair)
    return path + "?" + "&".join(pairs)
