"""Unit tests of the pure parts of observability: latency quantiles from histogram buckets, the
/debug/performance summary, and the JSON log line."""

from __future__ import annotations

import json
import logging

import pytest

from wsgi_s3.observability.logs import REQUEST_ID, JsonFormatter
from wsgi_s3.observability.metrics import _quantile_ms, performance


@pytest.mark.parametrize(
    ("buckets", "quantile", "expected"),
    [
        ([], 0.5, None),
        ([(0.1, 0.0), (float("inf"), 0.0)], 0.5, None),
        # 10 observations, all in (0, 0.1]: the median is halfway through that bucket.
        ([(0.1, 10.0), (1.0, 10.0), (float("inf"), 10.0)], 0.5, 50.0),
        # 4 in (0, 0.1], 6 in (0.1, 1]: rank 9.5 of 10 is 5.5/6 of the way through (0.1, 1].
        ([(0.1, 4.0), (1.0, 10.0), (float("inf"), 10.0)], 0.95, 925.0),
        # Beyond the last finite bound, its bound is all that is known.
        ([(0.1, 1.0), (float("inf"), 10.0)], 0.99, 100.0),
    ],
)
def test_quantiles_interpolate_inside_the_bucket(buckets, quantile, expected):
    assert _quantile_ms(buckets, quantile) == expected


class _Sample:
    def __init__(self, name: str, labels: dict[str, str], value: float) -> None:
        self.name, self.labels, self.value = name, labels, value


class _Family:
    def __init__(self, samples: list[_Sample]) -> None:
        self.samples = samples


class _Collector:
    def __init__(self, samples: list[_Sample]) -> None:
        self.family = _Family(samples)

    def collect(self):
        return [self.family]


def test_performance_sums_statuses_and_buckets_per_operation(monkeypatch):
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    monkeypatch.setattr("wsgi_s3.observability.metrics.registry", lambda collectors: _with(registry, collectors))
    op = {"method": "PUT", "operation": "PutObject"}
    samples = [
        _Sample("s3_requests_total", {**op, "status": "200"}, 3),
        _Sample("s3_requests_total", {**op, "status": "503"}, 1),
        _Sample("s3_requests_total", {**op, "status": "404"}, 2),
        _Sample("s3_request_duration_seconds_bucket", {**op, "le": "0.1"}, 6),
        _Sample("s3_request_duration_seconds_bucket", {**op, "le": "+Inf"}, 6),
        _Sample("s3_request_duration_seconds_sum", op, 0.3),
        _Sample("s3_requests_in_flight", {}, 2),
        _Sample("s3_upload_bytes_total", {}, 100),
    ]
    result = performance([_Collector(samples)])
    put = result["operations"]["PutObject"]
    assert (put["requests"], put["server_errors"], put["client_errors"]) == (6, 1, 2)
    assert put["mean_ms"] == 50.0 and put["p50_ms"] == 50.0
    assert result["requests_in_flight"] == 2 and result["upload_bytes"] == 100 and result["download_bytes"] == 0


def _with(registry, collectors):
    for collector in collectors:
        registry.register(collector)
    return registry


def test_a_log_line_is_one_json_object_with_the_request_id_and_the_extra_fields():
    record = logging.LogRecord("wsgi_s3.access", logging.INFO, __file__, 1, "request %s", ("completed",), None)
    record.status = 200
    token = REQUEST_ID.set("ABCDEF")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["msg"] == "request completed" and line["level"] == "info" and line["logger"] == "wsgi_s3.access"
    assert line["request_id"] == "ABCDEF" and line["status"] == 200
    assert "\n" not in JsonFormatter().format(record)
    assert "request_id" not in json.loads(JsonFormatter().format(record))  # outside a request: none


def test_a_client_cannot_invent_label_values():
    from prometheus_client import REGISTRY

    from wsgi_s3.observability.metrics import record_request

    labels = {"method": "OTHER", "operation": "Unknown", "status": "405"}
    before = REGISTRY.get_sample_value("s3_requests_total", labels) or 0
    for method in ("FOO", "BAR"):
        record_request(method, "Unknown", 405, 0.001, 0, 0, "MethodNotAllowed")
    assert REGISTRY.get_sample_value("s3_requests_total", labels) == before + 2
    assert REGISTRY.get_sample_value("s3_requests_total", {**labels, "method": "FOO"}) is None
