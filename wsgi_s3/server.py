"""Runs gunicorn in this process with the packaged (or a given) config and the resolved settings."""

from __future__ import annotations

from gunicorn.app.base import Application

from wsgi_s3.config import Settings


def bind_address(listen: str) -> str:
    """The seed's ':9000' means every interface."""
    return "0.0.0.0" + listen if listen.startswith(":") else listen


class _Application(Application):
    def __init__(self, settings: Settings, app_path: str) -> None:
        self.settings = settings
        self.app_path = app_path
        super().__init__()

    def init(self, parser, opts, args) -> None:  # gunicorn's argv parsing: we bring our own
        return None

    def load_config(self) -> None:
        self.load_config_from_module_name_or_filename(self.settings.gunicorn_config or "python:wsgi_s3.gunicorn_conf")
        s = self.settings
        overrides = {
            "bind": [bind_address(s.listen)],
            "workers": s.workers,
            "worker_connections": s.worker_connections,
            "timeout": s.timeout,
            "loglevel": s.log_level,
            "proc_name": "wsgi-s3",
        }
        if s.certfile:
            overrides.update(certfile=s.certfile, keyfile=s.keyfile)
        for name, value in overrides.items():
            self.cfg.set(name, value)

    def load(self):
        module, _, factory = self.app_path.partition(":")
        return getattr(__import__(module, fromlist=[factory]), factory)()


def run_gunicorn(settings: Settings, app_path: str) -> int:
    """Serve `app_path` ("module:factory", called in each worker after fork) until stopped."""
    _Application(settings, app_path).run()
    return 0
