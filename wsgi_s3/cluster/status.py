"""`wsgi-s3 cluster status`: each node up or down, the hints it holds for owners that missed
writes, and the last anti-entropy pass a gateway recorded on it."""

from __future__ import annotations

import json
from collections.abc import Mapping

from wsgi_s3.cluster.fanout import fanout
from wsgi_s3.cluster.node_client import NodeClient


def cluster_status(clients: Mapping[str, NodeClient]) -> tuple[list[str], bool]:
    """The report's lines, and whether every node answered."""
    outcome = fanout(clients, lambda url: clients[url].status())
    lines = [f"{'node':<32} {'state':<6} {'hints':>6}  last repair pass"]
    newest_pass: dict | None = None
    for url in clients:
        if url not in outcome.results:
            lines.append(f"{url:<32} {'down':<6} {'-':>6}  ({outcome.errors[url]})")
            continue
        status = outcome.results[url]
        repair = json.loads(status["repair"]) if isinstance(status.get("repair"), str) else None
        if repair and (newest_pass is None or repair.get("finished_ns", 0) > newest_pass.get("finished_ns", 0)):
            newest_pass = repair
        seen = f"{repair['finished']} by {repair['gateway']}" if repair else "never"
        lines.append(f"{url:<32} {'up':<6} {status.get('hints', 0):>6}  {seen}")
    if newest_pass:
        lines.append(
            f"last pass: {newest_pass['stretches']} ring stretches compared, {newest_pass['differing']} differed, "
            f"{newest_pass['keys']} keys repaired with {newest_pass['copies']} copies"
            + (f"; unreachable then: {', '.join(newest_pass['unreachable'])}" if newest_pass["unreachable"] else "")
        )
    return lines, not outcome.errors
