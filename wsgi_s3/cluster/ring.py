"""Placement: a consistent-hash ring with virtual nodes and weights.

An object's owners are the first N distinct nodes clockwise from hash("bucket/key"); the distinct
nodes after them, in ring order, are its stand-ins for hinted handoff. The ring depends only on the
set of nodes, their weights and the number of virtual nodes per unit of weight: every gateway, in
every process and on every machine, computes the same owners without talking to anyone.

Nodes are written `URL` or `URL=WEIGHT` (`http://10.0.0.1:9001=2`), comma-separated, the same in an
ini value and a flag. Weights are relative, like Swift's device weights: a node of weight 2 gets twice
the virtual nodes of a node of weight 1, so it owns about twice the keys.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from urllib.parse import urlsplit

from wsgi_s3.model.placement import SPACE, key_hash, stable_hash

# Measured (docs/architecture.md, Placement): with 1024 points per unit of weight, each of 3 or 10
# equal nodes owns its fair share of the hash space within about 5% (worst seen 11%; 256 points: 11%, worst 20%).
DEFAULT_VNODES = 1024
# A bound on the ring's size, so that a weight written in bytes or gigabytes is refused at start
# instead of building a table of millions of points in every worker.
MAX_POINTS = 1 << 20
_WEIGHT = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # ASCII digits only: float() also takes "nan", "1_0", "١"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Node:
    url: str  # canonical: scheme://host:port, lower-case, no trailing slash
    weight: float = 1.0

    def __str__(self) -> str:
        return self.url if self.weight == 1 else f"{self.url}={self.weight:g}"


def _canonical_url(text: str) -> str:
    example = "expected a URL like http://10.0.0.1:9001"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise ValueError(f"node {text!r}: {example}")
    if "@" in parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"node {text!r}: a node is scheme://host:port, without user, path, query or fragment")
    host = parts.hostname
    if not host:
        raise ValueError(f"node {text!r}: {example}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or (port is None and parts.netloc.endswith(":")):
        raise ValueError(f"node {text!r}: the port must be a number from 1 to 65535")
    host = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


def parse_node(text: str) -> Node:
    """`http://h:9001` or `http://h:9001=2` -> Node; a ValueError says what is wrong."""
    text = text.strip()
    url, sep, weight_text = text.rpartition("=")
    if not sep:
        return Node(_canonical_url(text))
    if not _WEIGHT.fullmatch(weight_text) or float(weight_text) <= 0:
        raise ValueError(f"node {text!r}: the weight after '=' must be a positive number like 1, 2 or 0.5")
    return Node(_canonical_url(url.strip()), float(weight_text))


def parse_nodes(text: str) -> list[Node]:
    """A comma-separated node list, as in `--nodes` or an ini value (which may span lines)."""
    nodes = [parse_node(item) for item in text.split(",") if item.strip()]
    if not nodes:
        raise ValueError("no nodes given: expected URL[=WEIGHT],URL[=WEIGHT],...")
    return nodes


class Ring:
    """The placement ring of a set of nodes. Built once; lookups are a bisect plus a short walk."""

    def __init__(self, nodes: Iterable[Node], vnodes: int = DEFAULT_VNODES) -> None:
        if vnodes < 1:
            raise ValueError(f"virtual nodes per unit of weight must be at least 1, not {vnodes}")
        # Points depend only on each node's URL; sorting by URL makes ties and listings order-free too.
        self.nodes: tuple[Node, ...] = tuple(sorted(nodes, key=lambda node: node.url))
        self.vnodes = vnodes
        if not self.nodes:
            raise ValueError("a ring needs at least one node")
        urls = [node.url for node in self.nodes]
        for previous, url in zip(urls, urls[1:]):
            if previous == url:
                raise ValueError(f"node {url} is listed twice")
        points: list[tuple[int, int]] = []
        for index, node in enumerate(self.nodes):
            count = round(node.weight * vnodes)
            if count < 1:
                raise ValueError(f"node {node}: weight {node.weight:g} is too small for {vnodes} virtual nodes per unit of weight")
            if len(points) + count > MAX_POINTS:
                raise ValueError(
                    f"the ring would have more than {MAX_POINTS} points: use relative weights (1, 2, 0.5) or fewer virtual nodes"
                )
            points.extend((stable_hash(f"{node.url}#{i}".encode()), index) for i in range(count))
        points.sort()  # ties (two equal 64-bit hashes) fall back to URL order, itself order-free
        self._points = [point for point, _ in points]
        self._owners = [index for _, index in points]

    def check_replicas(self, n: int) -> None:
        """Refuse a replica count that this ring cannot place on distinct nodes."""
        if n < 1:
            raise ValueError(f"the number of replicas must be at least 1, not {n}")
        if n > len(self.nodes):
            raise ValueError(f"{n} replicas need {n} distinct nodes, but the node list has {len(self.nodes)}")

    def _walk(self, start: int) -> Iterator[Node]:
        """Distinct nodes in ring order from point `start`, each once."""
        seen: set[int] = set()
        size = len(self._points)
        for offset in range(size):
            owner = self._owners[(start + offset) % size]
            if owner not in seen:
                seen.add(owner)
                yield self.nodes[owner]
                if len(seen) == len(self.nodes):
                    return

    def _start(self, key: str) -> int:
        # The first point at or after the key's hash, wrapping past the top of the space.
        return bisect.bisect_left(self._points, key_hash(key)) % len(self._points)

    def primaries(self, key: str, n: int) -> list[Node]:
        """The n distinct nodes that own "bucket/key", first owner first."""
        self.check_replicas(n)
        return list(islice(self._walk(self._start(key)), n))

    def handoffs(self, key: str, n: int) -> Iterator[Node]:
        """The distinct nodes after the n primaries of "bucket/key", in ring order."""
        self.check_replicas(n)
        return islice(self._walk(self._start(key)), n, None)

    def shares(self, n: int) -> dict[Node, float]:
        """For each node, the exact fraction of the hash space for which it is one of the n
        primaries (n=1: the first owner). The fractions add up to n."""
        self.check_replicas(n)
        owned = dict.fromkeys(self.nodes, 0)
        for index, point in enumerate(self._points):
            # Keys hashing into (previous point, this point] start their walk here.
            arc = (point - self._points[index - 1]) % SPACE or (SPACE if len(self._points) == 1 else 0)
            for node in islice(self._walk(index), n):
                owned[node] += arc
        return {node: owned[node] / SPACE for node in self.nodes}

    def arcs(self, n: int) -> list[tuple[int, int, tuple[Node, ...]]]:
        """The hash space cut into stretches [first, last] (inclusive positions) whose keys have the
        same n primaries, in position order; neighbours with the same set of owners are joined, so a
        cluster of n nodes is one stretch. Repair compares the owners of one stretch at a time."""
        self.check_replicas(n)
        size = len(self._points)
        cuts: list[tuple[int, int, int]] = []  # (first, last, index of the point the walk starts at)
        for index, point in enumerate(self._points):
            first = self._points[index - 1] + 1 if index else 0
            if first <= point:
                cuts.append((first, point, index))
        if self._points[-1] < SPACE - 1:
            cuts.append((self._points[-1] + 1, SPACE - 1, 0))  # past the last point, the walk wraps
        arcs: list[tuple[int, int, tuple[Node, ...]]] = []
        for first, last, index in cuts:
            owners = tuple(islice(self._walk(index % size), n))
            if arcs and set(arcs[-1][2]) == set(owners) and arcs[-1][1] + 1 == first:
                arcs[-1] = (arcs[-1][0], last, arcs[-1][2])
            else:
                arcs.append((first, last, owners))
        return arcs
