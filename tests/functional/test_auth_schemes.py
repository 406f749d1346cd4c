"""Bearer tokens (the seed's -auth_token and per-credential tokens) and the seed's S3-HMAC-SHA256
scheme against real servers, beside SigV4, with the same permission checks; failures logged
without secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from tests.functional.test_credentials import ROOT, client, code_of, credentials_cli, eventually, issued, unique
from tests.functional.test_errors_http import assert_error, send


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hmac_headers(access_key: str, secret_key: str, method: str, path: str, when: datetime | None = None) -> dict[str, str]:
    """The seed's README recipe: METHOD\\nPATH\\nDATE, HMAC-SHA256, base64."""
    date = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    text = f"{method}\n{path}\n{date}"
    signature = base64.b64encode(hmac.new(secret_key.encode(), text.encode(), hashlib.sha256).digest()).decode()
    return {"Authorization": f"S3-HMAC-SHA256 AccessKey={access_key},Signature={signature}", "Date": date}


@pytest.fixture
def token_server(start_server):
    """An embedded server with the seed's -auth_token set, as a seed-style flag."""
    return start_server("-auth_token=operator-token-0123456789")


def test_the_auth_token_has_every_permission(token_server):
    url = f"{token_server.endpoint}/by-token"
    assert send("PUT", url, b"", bearer("operator-token-0123456789")).status == 200
    assert send("PUT", url + "/k", b"token body", bearer("operator-token-0123456789")).status == 200
    assert send("GET", url + "/k", headers=bearer("operator-token-0123456789")).data == b"token body"
    assert send("DELETE", url + "/k", headers=bearer("operator-token-0123456789")).status == 204
    assert_error(send("GET", url, headers=bearer("operator-token-0123456789x")), 403, "AccessDenied", "/by-token")
    assert_error(send("GET", url, headers=bearer("two words")), 403, "AccessDenied", "/by-token")
    log = token_server.log()
    assert "authentication failed: GET /by-token scheme=Bearer" in log
    assert "operator-token" not in log


def test_a_credential_token_carries_its_permissions_and_dies_with_it(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc", Body=b"readable")
    name = unique("tokened")
    out = credentials_cli(server, "create", name, "read", "--buckets", bucket, "--token").stdout
    token = re.search(r"Bearer Token: (\S+)", out).group(1)
    url = f"{server.endpoint}/{bucket}/doc"
    assert eventually(lambda: send("GET", url, headers=bearer(token)).status == 200)
    assert send("GET", url, headers=bearer(token)).data == b"readable"
    assert_error(send("PUT", url, b"overwritten", bearer(token)), 403, "AccessDenied", f"/{bucket}/doc")
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"readable"
    listing = send("GET", f"{server.endpoint}/", headers=bearer(token))
    assert re.findall(rb"<Name>([^<]+)</Name>", listing.data) == [bucket.encode()]
    credentials_cli(server, "revoke", name)
    assert eventually(lambda: send("GET", url, headers=bearer(token)).status == 403)
    assert token not in server.log()


def test_the_seed_hmac_scheme(server, s3, bucket):
    name = unique("hmac")
    access_key, secret_key = issued(credentials_cli(server, "create", name, "read,write", "--buckets", bucket).stdout)
    path = f"/{bucket}/file.txt"
    assert eventually(lambda: send("PUT", server.endpoint + path, b"Hello World", hmac_headers(access_key, secret_key, "PUT", path)).status == 200)
    assert s3.get_object(Bucket=bucket, Key="file.txt")["Body"].read() == b"Hello World"
    assert send("GET", server.endpoint + path, headers=hmac_headers(access_key, secret_key, "GET", path)).data == b"Hello World"
    # The same permission checks as SigV4: no delete permission, no other bucket.
    assert_error(send("DELETE", server.endpoint + path, headers=hmac_headers(access_key, secret_key, "DELETE", path)), 403, "AccessDenied", path)
    other = unique("other")
    s3.create_bucket(Bucket=other)
    assert_error(send("GET", f"{server.endpoint}/{other}", headers=hmac_headers(access_key, secret_key, "GET", f"/{other}")), 403, "AccessDenied", f"/{other}")
    # Signed for another request, or by another secret, or too long ago.
    assert_error(send("PUT", server.endpoint + path, b"x", hmac_headers(access_key, secret_key, "GET", path)), 403, "SignatureDoesNotMatch", path)
    assert_error(send("GET", server.endpoint + path, headers=hmac_headers(access_key, "wrong", "GET", path)), 403, "SignatureDoesNotMatch", path)
    skewed = hmac_headers(access_key, secret_key, "GET", path, datetime.now(timezone.utc) - timedelta(minutes=20))
    assert_error(send("GET", server.endpoint + path, headers=skewed), 403, "RequestTimeTooSkewed", path)
    no_date = {"Authorization": hmac_headers(access_key, secret_key, "GET", path)["Authorization"]}
    assert_error(send("GET", server.endpoint + path, headers=no_date), 403, "AccessDenied", path)
    assert_error(send("GET", server.endpoint + path, headers={"Authorization": "S3-HMAC-SHA256 AccessKey=x"}), 400, "AuthorizationHeaderMalformed", path)
    credentials_cli(server, "revoke", name)
    assert eventually(
        lambda: send("GET", server.endpoint + path, headers=hmac_headers(access_key, secret_key, "GET", path)).status == 403
        and b"InvalidAccessKeyId" in send("GET", server.endpoint + path, headers=hmac_headers(access_key, secret_key, "GET", path)).data
    )
    log = server.log()
    assert f"scheme=S3-HMAC-SHA256 access_key={access_key} error=SignatureDoesNotMatch" in log
    assert secret_key not in log


def test_the_documented_curl_recipe(server, s3, bucket):
    """docs/credentials.md's shell recipe, run by bash with curl and openssl as written there."""
    document = (ROOT / "docs" / "credentials.md").read_text()
    recipe = next(block for block in re.findall(r"```bash\n(.*?)```", document, re.S) if "S3-HMAC-SHA256" in block)
    recipe = recipe.replace("http://localhost:9000/mybucket/", f"{server.endpoint}/{bucket}/").replace("/mybucket/", f"/{bucket}/")
    access_key, secret_key = issued(credentials_cli(server, "create", unique("curl"), "read,write").stdout)
    env = {**os.environ, "ACCESS_KEY": access_key, "SECRET_KEY": secret_key}
    script = "set -euo pipefail\n" + recipe.replace("curl -X PUT", "curl -sf -X PUT")
    assert eventually(lambda: subprocess.run(["bash", "-c", script], env=env, capture_output=True).returncode == 0)
    assert s3.get_object(Bucket=bucket, Key="file.txt")["Body"].read() == b"Hello World"


def test_sigv4_keeps_working_beside_the_other_schemes(server, bucket):
    name = unique("v4")
    access_key, secret_key = issued(credentials_cli(server, "create", name, "read").stdout)
    v4 = client(server, access_key, secret_key)
    assert eventually(lambda: code_of(lambda: v4.list_objects_v2(Bucket=bucket)) == "")
    assert code_of(lambda: v4.put_object(Bucket=bucket, Key="x", Body=b"x")) == "AccessDenied"
    credentials_cli(server, "revoke", name)
