"""gunicorn settings and hooks shared by every wsgi-s3 role (conf/gunicorn.conf.py extends this).

Kept free of heavy imports: gunicorn reads it in the master before forking gevent workers.
"""

from __future__ import annotations

# gevent's worker, answering malformed HTTP in S3's XML and sending 100 Continue only to accepted requests.
worker_class = "wsgi_s3.worker.S3Worker"
worker_connections = 1000
graceful_timeout = 30
keepalive = 75  # longer than client idle pools and than nginx's upstream keepalive_timeout (60 s), so nginx closes first
# Request lines carry long presigned query strings. 8190 is gunicorn's ceiling (MAX_REQUEST_LINE in
# gunicorn/http/message.py): a larger value is silently lowered to it (benoitc/gunicorn#3171), and 0
# would mean no limit at all. S3 itself refuses a header section over 8 KiB.
limit_request_line = 8190
# Headers carry many x-amz-meta-* entries.
limit_request_field_size = 16384
errorlog = "-"
accesslog = None
forwarded_allow_ips = "127.0.0.1,::1"
# gunicorn 24+ opens a control socket in $HOME by default; several services on one host would share it.
control_socket_disable = True
# JSON lines for gunicorn's own messages too, at the configured level (observability/logs.py).
logger_class = "wsgi_s3.observability.logs.GunicornLogger"


def on_starting(server) -> None:
    """Before any worker exists nothing can be mid-write or mid-read: sweep everything a crash left
    behind and every freed blob. The data directory's lock, held from here on, makes sure no other
    service is writing there. Then one sweeper process per data directory is forked (off the
    workers and their gevent hubs); it stops when this master does. `serve` and every gateway fork
    a lifecycle daemon the same way (daemons/lifecycle.py)."""
    from wsgi_s3.config import active
    from wsgi_s3.daemons.forked import fork_loop
    from wsgi_s3.store.dirlock import DataDirInUse, lock_data_dir
    from wsgi_s3.store.store import Store
    from wsgi_s3.store.sweeper import Sweeper

    settings = active()
    _prepare_metrics(server, settings)
    if settings.mode == "gateway":
        _fork_repairer(server, settings)
        _fork_lifecycle(server, settings)
        _start_metrics_port(server, settings, None)
        return  # no store of its own: the nodes keep the data and sweep it
    try:
        server.data_dir_lock = lock_data_dir(settings.data_dir)
    except DataDirInUse as exc:
        server.log.error("%s", exc)
        raise SystemExit(1) from None
    store = Store(settings.data_dir, lock_timeout=settings.lock_timeout)
    tombstone_grace = settings.tombstone_grace * 86400
    Sweeper(store, orphan_grace=0, reclaim_grace=0, tombstone_grace=tombstone_grace).run_once()
    store.meta.close()  # the master keeps no SQLite connection across the forks to come
    sweeper = Sweeper(store, orphan_grace=settings.sweep_grace, reclaim_grace=settings.reclaim_grace, tombstone_grace=tombstone_grace)
    # In a process of its own, every sweep_interval (daemons/forked.py).
    server.sweeper_pid, server.sweeper_stop = fork_loop(settings.sweep_interval, sweeper.run_once, f"sweep of {settings.data_dir}")
    if settings.mode == "serve":  # a node's data is its gateways' to expire
        _fork_lifecycle(server, settings)
    _start_metrics_port(server, settings, store)


def _fork_repairer(server, settings) -> None:
    """A gateway's repairer: one process beside its workers (daemons/repair.py)."""
    import socket

    from wsgi_s3.daemons.forked import fork_loop
    from wsgi_s3.daemons.repair import Repairer

    def make_backend():
        from wsgi_s3.wsgi import cluster_backend  # in the repairer's process, on its first round

        return cluster_backend(settings)

    origin = f"{socket.gethostname()}:{settings.listen}"
    repairer = Repairer(make_backend, settings.repair_interval, settings.repair_batch, origin, settings.repair_lease)
    server.repairer_pid, server.repairer_stop = fork_loop(repairer.tick, repairer.run_once, "repair")


def _fork_lifecycle(server, settings) -> None:
    """The lifecycle daemon: one per data directory, and per gateway (they take turns by lease)."""
    from wsgi_s3.daemons.forked import fork_loop
    from wsgi_s3.daemons.lifecycle import daemon_for

    daemon = daemon_for(settings)
    server.lifecycle_pid, server.lifecycle_stop = fork_loop(daemon.tick, daemon.run_once, "lifecycle")


def on_exit(server) -> None:
    import os

    for name in ("sweeper_stop", "repairer_stop", "metrics_port_stop", "lifecycle_stop"):
        if hasattr(server, name):
            os.close(getattr(server, name))
    if getattr(server, "metrics_dir_owned", None):
        from wsgi_s3.observability.metrics import remove_multiprocess_dir

        remove_multiprocess_dir(server.metrics_dir_owned)


def _prepare_metrics(server, settings) -> None:
    """prometheus-client's multiprocess directory, set and emptied before any worker exists. The
    variable must be set before prometheus_client is first imported here: the workers inherit the
    choice it makes then (so nothing the master imports earlier may import it)."""
    import os
    import sys
    import tempfile

    if "prometheus_client" in sys.modules:
        # Metrics would count in each worker's memory, and a scrape see one worker's share.
        raise RuntimeError("prometheus_client was imported before the multiprocess directory was set")
    path = settings.metrics_dir or tempfile.mkdtemp(prefix="wsgi-s3-metrics-")
    if settings.metrics_dir:
        os.makedirs(path, mode=0o700, exist_ok=True)
        for entry in os.scandir(path):  # files of an earlier run would be summed into this one's counters
            if entry.name.endswith(".db"):
                os.unlink(entry.path)
    else:
        server.metrics_dir_owned = path
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


def _start_metrics_port(server, settings, store) -> None:
    """The metrics port, served by a process of its own forked from the master, so it answers
    whatever the workers do (restarts, a hung worker). A port already taken is logged, not fatal:
    S3 traffic matters more than its metrics."""
    from wsgi_s3 import __version__
    from wsgi_s3.observability.metrics import StoreCollector, counted, metrics_port_app, serve_metrics_port

    listen = settings.metrics_listen or ("" if settings.mode == "node" else "127.0.0.1:9091")
    if listen in ("", "off"):
        return
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        server.log.error("metrics_listen = %s: expected HOST:PORT or off", listen)
        raise SystemExit(2)
    stored = [StoreCollector(store.stats)] if store is not None else []

    def collectors() -> list[object]:
        return stored if settings.mode == "node" else [counted(), *stored]

    app = metrics_port_app(collectors, {"version": __version__, "role": settings.mode})
    try:
        server.metrics_port_pid, server.metrics_port_stop = serve_metrics_port(host.strip("[]") or "0.0.0.0", int(port), app)
    except OSError as exc:
        server.log.error("metrics port %s: %s; metrics stay available on /metrics where status_access allows", listen, exc)


def post_worker_init(worker) -> None:
    """/ready answers 503 once this worker is told to stop (observability/status.py)."""
    from wsgi_s3.observability.status import note_worker

    note_worker(worker)


def child_exit(server, worker) -> None:
    """A dead worker's live gauges (requests in flight) must stop counting in the sums."""
    from wsgi_s3.observability.metrics import mark_dead

    mark_dead(worker.pid)
