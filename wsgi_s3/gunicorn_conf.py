"""gunicorn settings and hooks shared by every wsgi-s3 role (conf/gunicorn.conf.py extends this).

Kept free of heavy imports: gunicorn reads it in the master before forking gevent workers.
"""

from __future__ import annotations

# gevent's worker, answering malformed HTTP in S3's XML and sending 100 Continue only to accepted requests.
worker_class = "wsgi_s3.worker.S3Worker"
worker_connections = 1000
graceful_timeout = 30
keepalive = 75  # longer than typical client idle pools, shorter than nginx's upstream keepalive_timeout
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
    """Before any worker exists nothing can be mid-write: sweep everything a crash left behind.
    The data directory's lock, held from here on, makes sure no other service is writing there."""
    from wsgi_s3.config import Settings
    from wsgi_s3.store.dirlock import DataDirInUse, lock_data_dir
    from wsgi_s3.store.store import Store
    from wsgi_s3.store.sweeper import sweep

    data_dir = Settings.from_env().data_dir
    try:
        server.data_dir_lock = lock_data_dir(data_dir)
    except DataDirInUse as exc:
        server.log.error("%s", exc)
        raise SystemExit(1) from None
    store = Store(data_dir)
    sweep(store, grace_seconds=0)
    store.meta.close()


def post_worker_init(worker) -> None:
    """Each worker sweeps periodically in a greenlet; the grace period protects writes in flight
    in any worker, and a sweep that races another one only finds files already gone."""
    import random

    import gevent

    from wsgi_s3.config import Settings
    from wsgi_s3.store.store import Store
    from wsgi_s3.store.sweeper import sweep

    settings = Settings.from_env()

    def periodic() -> None:
        store = Store(settings.data_dir)
        while True:
            gevent.sleep(settings.sweep_interval * random.uniform(0.5, 1.5))
            try:
                sweep(store, grace_seconds=settings.sweep_grace)
            except Exception:  # noqa: BLE001 - a failed sweep must not kill the worker
                worker.log.exception("periodic sweep failed")

    gevent.spawn(periodic)
