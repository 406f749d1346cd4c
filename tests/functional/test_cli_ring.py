"""`wsgi-s3 ring`: an operator asks where keys live and how the key space is shared, as a real command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from wsgi_s3.cluster.ring import Ring, parse_nodes

ROOT = Path(__file__).resolve().parents[2]
NODES = "http://10.0.0.1:9001,http://10.0.0.2:9001=2,http://10.0.0.3:9001,http://10.0.0.4:9001"


def wsgi_s3(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONHASHSEED": "random"}
    return subprocess.run([sys.executable, "-m", "wsgi_s3", *args], capture_output=True, text=True, encoding="utf-8", cwd=ROOT, env=env)


def test_keys_print_their_owners_and_first_handoff():
    keys = ["photos/cat.jpg", "b/\U0010ffff", "b/ключ 😀/a b", "logs/2026/11/30.gz"]
    done = wsgi_s3("ring", "--nodes", NODES, "--replicas", "3", *keys)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(keys)
    ring = Ring(parse_nodes(NODES))  # the command says what the gateway's ring computes
    for key, line in zip(keys, lines):
        match = re.fullmatch(r"(.*) -> (\S+) (\S+) (\S+) \(handoff: (\S+)\)", line)
        assert match, line
        assert match.group(1) == key
        owners = [match.group(i) for i in (2, 3, 4)]
        assert owners == [node.url for node in ring.primaries(key, 3)]
        assert len(set(owners)) == 3 and match.group(5) not in owners
        assert match.group(5) == next(ring.handoffs(key, 3)).url


def test_no_handoff_when_every_node_is_an_owner():
    done = wsgi_s3("ring", "--nodes", "http://a:1,http://b:1", "--replicas", "2", "bucket/key")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("(handoff: none)\n")


def test_without_keys_each_node_share_follows_its_weight():
    done = wsgi_s3("ring", "--nodes", NODES, "--replicas", "2")
    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines():
        match = re.fullmatch(r"(http://\S+)\s+([0-9.]+)\s+([0-9.]+)%\s+([0-9.]+)%\s+([0-9.]+)%", line)
        if match:
            rows[match.group(1)] = [float(match.group(i)) for i in (2, 3, 4, 5)]
    assert sorted(rows) == [f"http://10.0.0.{i}:9001" for i in (1, 2, 3, 4)]
    assert "4 nodes, 1024 virtual nodes per unit of weight, 2 replicas" in done.stdout
    weight, fair, first, holds = zip(*rows.values())
    assert weight == (1, 2, 1, 1) and fair == (20, 40, 20, 20)
    assert abs(sum(first) - 100) <= 0.2  # each rounded to 0.1%
    assert abs(sum(holds) - 200) <= 0.2  # two replicas of every object
    assert all(abs(f - share) <= 0.1 * share for f, share in zip(first, fair))  # within 10% of fair


def test_seed_style_flags_work():
    done = wsgi_s3("ring", "-nodes=http://a:1,http://b:1,http://c:1", "-replicas=2", "-vnodes=64", "b/k")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"b/k -> http://[abc]:1 http://[abc]:1 \(handoff: http://[abc]:1\)\n", done.stdout)


def test_configurations_that_cannot_work_are_refused_with_the_reason():
    cases = [
        (["--nodes", "http://a:1,http://b:1"], "3 replicas need 3 distinct nodes, but the node list has 2"),
        (["--nodes", "http://a:1,10.0.0.1:9001"], "expected a URL like http://10.0.0.1:9001"),
        (["--nodes", "http://a:1,http://A:1/,http://c:1"], "listed twice"),
        (["--nodes", "http://a:1=heavy,http://b:1,http://c:1"], "weight"),
        (["--nodes", "http://a:1,http://b:1,http://c:1", "no-slash"], "a key is written bucket/key"),
    ]
    for args, message in cases:
        done = wsgi_s3("ring", *args)
        assert done.returncode == 2
        assert message in done.stderr and done.stdout == ""
