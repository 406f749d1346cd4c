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
    workers and their gevent hubs); it stops when this master does. The lifecycle daemon is forked
    the same way by `serve` and by every gateway (daemons/lifecycle.py)."""
    from wsgi_s3.config import Settings
    from wsgi_s3.daemons import lifecycle
    from wsgi_s3.store.dirlock import DataDirInUse, lock_data_dir
    from wsgi_s3.store.store import Store
    from wsgi_s3.store.sweeper import Sweeper

    settings = Settings.from_env()
    if settings.mode == "gateway":
        # No store of its own (the nodes keep the data and sweep it); its lifecycle daemon takes
        # turns with other gateways' by lease.
        server.lifecycle_pid, server.lifecycle_stop = lifecycle.start(settings)
        return
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
        server.lifecycle_pid, server.lifecycle_stop = lifecycle.start(settings)


def on_exit(server) -> None:
    import os

    if hasattr(server, "sweeper_stop"):
        os.close(server.sweeper_stop)
    if hasattr(server, "lifecycle_stop"):
        os.close(server.lifecycle_stop)
