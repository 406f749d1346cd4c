"""The bearer and seed HMAC schemes as pure functions: parsing, digests, signatures, clock skew."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from wsgi_s3.s3 import bearer, errors, hmac_scheme
from wsgi_s3.s3.sigv4 import SignedRequest

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def seed_signature(text: str, secret: str = SECRET) -> str:
    """As the seed's README computes it: openssl dgst -sha256 -hmac "$SECRET_KEY" -binary | base64."""
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()


def hmac_request(method="PUT", path="/mybucket/file.txt", date="20261201T120000Z", signature=None, query=(), **headers) -> SignedRequest:
    text = f"{method}\n{path}\n{date}"
    value = f"S3-HMAC-SHA256 AccessKey=AKIAIOSFODNN7EXAMPLE,Signature={signature or seed_signature(text)}"
    return SignedRequest(method, path, list(query), {"authorization": value, "date": date, **headers})


def secret_for(access_key: str) -> str | None:
    return SECRET if access_key == "AKIAIOSFODNN7EXAMPLE" else None


def test_the_seed_example_verifies():
    assert hmac_scheme.verify(hmac_request(), secret_for, NOW) == "AKIAIOSFODNN7EXAMPLE"


def test_an_http_date_verifies_too():
    assert hmac_scheme.verify(hmac_request(date="Tue, 01 Dec 2026 12:03:00 GMT"), secret_for, NOW) == "AKIAIOSFODNN7EXAMPLE"


@pytest.mark.parametrize("minutes, ok", [(14, True), (-14, True), (16, False), (-16, False)])
def test_clock_skew(minutes, ok):
    date = (NOW + timedelta(minutes=minutes)).strftime("%Y%m%dT%H%M%SZ")
    if ok:
        hmac_scheme.verify(hmac_request(date=date), secret_for, NOW)
    else:
        with pytest.raises(errors.RequestTimeTooSkewed):
            hmac_scheme.verify(hmac_request(date=date), secret_for, NOW)


@pytest.mark.parametrize("date", ["", "yesterday", "20261301T120000Z", "2026121T120000Z", "２0261201T120000Z"])
def test_a_missing_or_invalid_date_is_refused(date):
    with pytest.raises(errors.AccessDenied):
        hmac_scheme.verify(hmac_request(date=date), secret_for, NOW)


def test_a_wrong_secret_or_changed_request_is_refused():
    with pytest.raises(errors.SignatureDoesNotMatch):
        hmac_scheme.verify(hmac_request(signature=seed_signature("PUT\n/mybucket/file.txt\n20261201T120000Z", "other")), secret_for, NOW)
    signed_for_get = seed_signature("GET\n/mybucket/file.txt\n20261201T120000Z")
    with pytest.raises(errors.SignatureDoesNotMatch):
        hmac_scheme.verify(hmac_request(method="PUT", signature=signed_for_get), secret_for, NOW)


def test_query_and_amz_headers_are_covered():
    # The seed's string without them no longer verifies once they are added (no replay as another operation).
    with pytest.raises(errors.SignatureDoesNotMatch):
        hmac_scheme.verify(hmac_request(query=[("uploadId", "x")]), secret_for, NOW)
    with pytest.raises(errors.SignatureDoesNotMatch):
        hmac_scheme.verify(hmac_request(**{"x-amz-copy-source": "/other/secret"}), secret_for, NOW)
    request = hmac_request(query=[("uploadId", "x y"), ("partNumber", "1")], **{"x-amz-copy-source": " /other/secret "})
    text = hmac_scheme.string_to_sign(request)
    assert text == "PUT\n/mybucket/file.txt?partNumber=1&uploadId=x%20y\n20261201T120000Z\nx-amz-copy-source:/other/secret"
    signed = SignedRequest(request.method, request.raw_path, request.query, {**request.headers, "authorization": f"S3-HMAC-SHA256 AccessKey=AKIAIOSFODNN7EXAMPLE,Signature={seed_signature(text)}"})
    assert hmac_scheme.verify(signed, secret_for, NOW) == "AKIAIOSFODNN7EXAMPLE"


def test_an_unknown_key_is_invalid_access_key_id():
    request = hmac_request()
    other = SignedRequest(request.method, request.raw_path, [], {**request.headers, "authorization": request.headers["authorization"].replace("AKIAIOSFODNN7EXAMPLE", "NOSUCHKEY")})
    with pytest.raises(errors.InvalidAccessKeyId):
        hmac_scheme.verify(other, secret_for, NOW)


@pytest.mark.parametrize(
    "value",
    [
        "S3-HMAC-SHA256 ",
        "S3-HMAC-SHA256 AccessKey=A",
        "S3-HMAC-SHA256 Signature=abc",
        "S3-HMAC-SHA256 AccessKey=A,AccessKey=B,Signature=c",
        "S3-HMAC-SHA256 AccessKey=A,Signature=c,Extra=d",
        "S3-HMAC-SHA256 AccessKey=A B,Signature=c",
    ],
)
def test_malformed_hmac_headers(value):
    with pytest.raises(errors.AuthorizationHeaderMalformed):
        hmac_scheme.parse(value)


def test_hmac_parse_allows_spaces_after_commas():
    assert hmac_scheme.parse("S3-HMAC-SHA256 AccessKey=AK, Signature=c2ln+/=") == ("AK", "c2ln+/=")


# bearer


def test_bearer_scheme_name_is_case_insensitive():
    assert bearer.has_bearer({"authorization": "bearer abc"})
    assert bearer.has_bearer({"authorization": "Bearer abc"})
    assert not bearer.has_bearer({"authorization": "AWS4-HMAC-SHA256 Credential=x"})
    assert bearer.parse({"authorization": "Bearer  ws3_abc-DEF.1~+/= "}) == "ws3_abc-DEF.1~+/="


@pytest.mark.parametrize("token", ["", "two words", "tab\there", "é", "x" * 513])
def test_malformed_bearer_tokens(token):
    with pytest.raises(errors.AccessDenied):
        bearer.parse({"authorization": "Bearer " + token})


def test_new_tokens_are_random_and_stored_as_their_digest():
    first, second = bearer.new_token(), bearer.new_token()
    assert first != second and first.startswith("ws3_") and len(first) > 40
    assert bearer.digest(first) == hashlib.sha256(first.encode()).hexdigest()
    assert first not in bearer.digest(first)
