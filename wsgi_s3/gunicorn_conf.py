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


def on_starting(server) -> None:
    """Before any worker exists nothing can be mid-write or mid-read: sweep everything a crash left
    behind and every freed blob. The data directory's lock, held from here on, makes sure no other
    service is writing there. Then one sweeper process per data directory is forked (off the
    workers and their gevent hubs); it stops when this master does. `serve` and every gateway fork
    a lifecycle daemon the same way (daemons/lifecycle.py)."""
    from wsgi_s3.config import Settings
    from wsgi_s3.store.dirlock import DataDirInUse, lock_data_dir
    from wsgi_s3.store.store import Store
    from wsgi_s3.store.sweeper import Sweeper

    settings = Settings.from_env()
    if settings.mode == "gateway":
        _fork_repairer(server, settings)
        _fork_lifecycle(server, settings)
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
    server.sweeper_pid, server.sweeper_stop = sweeper.fork(settings.sweep_interval)
    if settings.mode == "serve":  # a node's data is its gateways' to expire
        _fork_lifecycle(server, settings)


def _fork_repairer(server, settings) -> None:
    """A gateway's repairer: one process beside its workers (daemons/repair.py)."""
    import socket

    from wsgi_s3.daemons.forked import fork_loop
    from wsgi_s3.daemons.repair import Repairer
    from wsgi_s3.wsgi import cluster_backend

    origin = f"{socket.gethostname()}:{settings.listen}"
    repairer = Repairer(cluster_backend(settings), settings.repair_interval, settings.repair_batch, origin)
    server.repairer_pid, server.repairer_stop = fork_loop(repairer.tick, repairer.run_once, "repair")


def _fork_lifecycle(server, settings) -> None:
    """The lifecycle daemon: one per data directory, and per gateway (they take turns by lease)."""
    from wsgi_s3.daemons.forked import fork_loop
    from wsgi_s3.daemons.lifecycle import daemon_for

    daemon = daemon_for(settings)
    server.lifecycle_pid, server.lifecycle_stop = fork_loop(daemon.tick, daemon.run_once, "lifecycle")


def on_exit(server) -> None:
    import os

    for name in ("sweeper_stop", "repairer_stop", "lifecycle_stop"):
        if hasattr(server, name):
            os.close(getattr(server, name))
