"""conf/prometheus/alerts.yml and conf/grafana/wsgi-s3.json: valid for their tools, and naming only metrics a
real server exports (checked against a live scrape of its metrics port)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import urllib3
import yaml
from botocore.exceptions import ClientError

from tests.conftest import free_port, make_client
from tests.functional import signed_http

CONF = Path(__file__).resolve().parents[2] / "conf"
ALERTS = CONF / "prometheus" / "alerts.yml"
DASHBOARD = CONF / "grafana" / "wsgi-s3.json"
# Series Prometheus makes itself, not a scraped service.
PROMETHEUS_OWN = {"up"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed; bin/test installs Debian's prometheus package")
    return path


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers not followed by `(` (functions) and not
    label names (inside {} or after by/without)."""
    expression = re.sub(r"\{[^}]*\}", "", expression)  # label matchers
    expression = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expression)  # grouping labels
    expression = re.sub(r"\[[^\]]*\]", "", expression)  # ranges
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expression))
    return {name for name in names if not re.fullmatch(r"\d.*|and|or|unless|bool|offset|le", name)}


def test_alert_rules_pass_promtool():
    result = subprocess.run([promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_alert_rules_fire_on_the_series_they_watch(tmp_path):
    """promtool's rule unit tests: an error rate of 20/s and a gateway down fire; 1 error/s does not."""
    tests = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 's3_errors_total{job="s3-gateway",instance="gw1:9091",error_type="NoSuchKey",operation="GetObject"}', "values": "0+1200x20"},
                {"series": 's3_errors_total{job="s3-gateway",instance="gw2:9091",error_type="NoSuchKey",operation="GetObject"}', "values": "0+60x20"},
                {"series": 's3_rate_limit_rejected_total{job="s3-gateway",instance="gw2:9091",reason="max_inflight"}', "values": "0+7200x20"},
                {"series": 'up{job="s3-gateway",instance="gw3:9091"}', "values": "0x10"},
                {"series": 'up{job="s3-gateway",instance="gw1:9091"}', "values": "1x10"},
            ],
            "alert_rule_test": [
                {"eval_time": "15m", "alertname": "HighErrorRate", "exp_alerts": [{
                    "exp_labels": {"severity": "warning", "job": "s3-gateway", "instance": "gw1:9091"},
                    "exp_annotations": {"summary": "High error rate detected", "description": "Error rate is 20 errors/sec on gw1:9091"},
                }]},
                {"eval_time": "15m", "alertname": "HighRateLimitRejections", "exp_alerts": [{
                    "exp_labels": {"severity": "warning", "job": "s3-gateway", "instance": "gw2:9091"},
                    "exp_annotations": {"summary": "High rate limit rejections", "description": "120 requests/sec are being rate limited on gw2:9091"},
                }]},
                {"eval_time": "5m", "alertname": "GatewayDown", "exp_alerts": [{
                    "exp_labels": {"severity": "critical", "job": "s3-gateway", "instance": "gw3:9091"},
                    "exp_annotations": {"summary": "S3 Gateway is down", "description": "Gateway instance gw3:9091 is unreachable"},
                }]},
            ],
        }],
    }
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(tests))
    result = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_is_a_grafana_dashboard():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        assert all(target["expr"] and target["refId"] for target in panel["targets"])


def _scraped_names(exposition: str) -> set[str]:
    return {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0) for line in exposition.splitlines() if line and not line.startswith("#")}


def test_every_metric_the_alerts_and_dashboard_name_is_exported(start_server):
    """A server's metrics port after traffic that makes every series appear (prometheus-client's
    multiprocess mode exports a labelled counter only once it has counted): uploads, reads, an error, an
    authentication failure and a request past max_inflight."""
    metrics_port = free_port()
    server = start_server("--metrics-listen", f"127.0.0.1:{metrics_port}", "--max-inflight", "1", "--workers", "1")
    s3 = make_client(server.endpoint)
    bucket = "metrics-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"abc")
    s3.get_object(Bucket=bucket, Key="a")["Body"].read()
    s3.head_object(Bucket=bucket, Key="a")
    s3.list_objects_v2(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="a")
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="missing")
    with urllib3.PoolManager(retries=False) as pool:
        assert pool.request("GET", f"{server.endpoint}/{bucket}", headers={"Authorization": "AWS4-HMAC-SHA256 bad"}).status in (400, 403)
        held = signed_http.start(server, "PUT", f"/{bucket}/held", {"Content-Length": "1", "Expect": "100-continue"})
        assert held.sock.recv(len(b"HTTP/1.1 100 Continue\r\n\r\n")).startswith(b"HTTP/1.1 100")
        assert pool.request("GET", f"{server.endpoint}/{bucket}").status == 503  # past max_inflight
        held.send(b"x")
        assert held.getresponse().status == 200
        held.close()
        response = pool.request("GET", f"http://127.0.0.1:{metrics_port}/metrics")
    assert response.status == 200
    exported = _scraped_names(response.data.decode())
    named = set().union(*(metric_names(rule["expr"]) for rule in alert_rules()), *(metric_names(e) for e in dashboard_expressions()))
    assert named - PROMETHEUS_OWN, "no metric found in the expressions: the parser is broken"
    assert named - PROMETHEUS_OWN - exported == set()


def test_metric_names_parser():
    assert metric_names('sum by (job, instance) (rate(s3_errors_total{job="x"}[5m])) > 10') == {"s3_errors_total"}
    assert metric_names("histogram_quantile(0.5, sum by (le) (rate(a_bucket[5m])))") == {"a_bucket"}
    assert metric_names("a / b < 0.10") == {"a", "b"}
