"""A TCP proxy to put between a gateway and one storage node, that misbehaves on chosen requests the
way a sick node or network does: answers late, resets the connection after some bytes of its
answer, or stops taking a request's body mid-way.

It works on bytes, not HTTP, with one exception: a chunk from the client that starts with a method
begins a request (clients here do not pipeline), and the fault in force applies to the requests
whose first bytes start with its `match` (e.g. b"GET /v1/data/": reads of object bytes).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import Cluster, Server, make_cluster

METHODS = (b"GET ", b"HEAD ", b"PUT ", b"POST ", b"DELETE ")


@dataclass(frozen=True)
class Fault:
    match: bytes = b""  # the requests it applies to (their first bytes); b"": every request
    delay: float = 0.0  # seconds before the answer's first byte is passed on
    reset_after: int | None = None  # bytes of the answer passed on, then the connection is reset
    stall_after: int | None = None  # bytes of the request passed on, then none (the node waits for the rest)


class _Connection:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.fault: Fault | None = None  # of the request in flight
        self.request_bytes = 0
        self.answer_bytes = 0
        self.lock = threading.Lock()
        self.closed = False

    def close(self, reset: bool = False) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        if reset:  # linger 0: close() sends RST instead of FIN
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.fault: Fault | None = None
        self.requests: list[bytes] = []  # the first line of every request passed on
        self.hits = 0  # requests the fault applied to
        self.connections: list[_Connection] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        for connection in list(self.connections):
            connection.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()  # the node is down: so is the proxy's answer
                continue
            connection = _Connection(client, upstream)
            self.connections.append(connection)
            threading.Thread(target=self._requests, args=(connection,), daemon=True).start()
            threading.Thread(target=self._answers, args=(connection,), daemon=True).start()

    def _requests(self, connection: _Connection) -> None:
        """Client to node."""
        try:
            while data := connection.client.recv(65536):
                if data.startswith(METHODS):
                    fault = self.fault
                    connection.fault = fault if fault is not None and data.startswith(fault.match) else None
                    connection.request_bytes = connection.answer_bytes = 0
                    self.requests.append(data.split(b"\r\n", 1)[0])
                    self.hits += connection.fault is not None
                stall = connection.fault.stall_after if connection.fault else None
                if stall is not None:
                    # Taken from the client (so that its close is seen) but no more passed on.
                    data = data[: max(0, stall - connection.request_bytes)]
                connection.request_bytes += len(data)
                if data:
                    connection.upstream.sendall(data)
        except OSError:
            pass
        connection.close()

    def _answers(self, connection: _Connection) -> None:
        """Node to client."""
        try:
            while data := connection.upstream.recv(65536):
                fault = connection.fault
                if fault and fault.delay and not connection.answer_bytes:
                    time.sleep(fault.delay)
                if fault and fault.reset_after is not None and connection.answer_bytes + len(data) > fault.reset_after:
                    connection.client.sendall(data[: fault.reset_after - connection.answer_bytes])
                    connection.close(reset=True)
                    return
                connection.answer_bytes += len(data)
                connection.client.sendall(data)
        except OSError:
            pass
        connection.close()


@contextmanager
def proxied_cluster(base: Path, node_timeout: float) -> Iterator[tuple[Cluster, list[FaultProxy]]]:
    """A started cluster whose gateway (one worker) reaches every node through a FaultProxy of its own."""
    proxies: list[FaultProxy] = []

    def via(node: Server) -> str:
        proxies.append(FaultProxy(node.port))
        return proxies[-1].url

    flags = ("--node-timeout", str(node_timeout), "--node-down-interval", "1", "--workers", "1")
    cluster = make_cluster(base, via=via, gateway_flags=flags)
    cluster.start()
    try:
        yield cluster, proxies
    finally:
        cluster.stop()
        for proxy in proxies:
            proxy.close()
