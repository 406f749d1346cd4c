"""Runs gunicorn in this process with the packaged (or a given) config and the resolved settings."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gunicorn.app.base import Application

from wsgi_s3.config import Settings, activate


def bind_address(listen: str) -> str:
    """The seed's ':9000' means every interface."""
    return "0.0.0.0" + listen if listen.startswith(":") else listen


# Read once at start by the sweeper the master forks (gunicorn_conf.on_starting), not by the workers.
_MASTER_SETTINGS = ("sweep_interval", "sweep_grace", "reclaim_grace", "tombstone_grace")


class _Application(Application):
    def __init__(self, settings: Settings, app_path: str, reresolve: Callable[[], Settings]) -> None:
        self.settings = settings
        self.app_path = app_path
        self.reresolve = reresolve
        self.started = False
        super().__init__()

    def init(self, parser, opts, args) -> None:  # gunicorn's argv parsing: we bring our own
        return None

    def load_config(self) -> None:
        """At start, and again on every HUP (gunicorn's reload, before it forks fresh workers): the
        settings are resolved anew from the same flags, environment and files, and handed to the workers
        in memory (activate). A reload with a broken config keeps the running settings."""
        if self.started:
            self.settings = self._reloaded()
        self.started = True
        activate(self.settings)
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

    def _reloaded(self) -> Settings:
        log = logging.getLogger("gunicorn.error")
        try:
            fresh = self.reresolve()
        except ValueError as exc:
            log.error("reload: %s; keeping the running configuration", exc)
            return self.settings
        if fresh.data_dir != self.settings.data_dir:  # the master holds the old one's lock and sweeper
            log.error("reload: data_dir changed (%s -> %s): restart the service for that; keeping the running configuration",
                      self.settings.data_dir, fresh.data_dir)
            return self.settings
        pending = [name for name in _MASTER_SETTINGS if getattr(fresh, name) != getattr(self.settings, name)]
        if pending:
            log.warning("reload: %s take effect at the next restart (the sweeper forked at start keeps its own)", ", ".join(pending))
        log.info("reload: configuration re-read")
        return fresh

    def load(self):
        module, _, factory = self.app_path.partition(":")
        return getattr(__import__(module, fromlist=[factory]), factory)()


def run_gunicorn(settings: Settings, app_path: str, reresolve: Callable[[], Settings]) -> int:
    """Serve `app_path` ("module:factory", called in each worker after fork) until stopped;
    `reresolve` gives the settings anew on a reload (SIGHUP) or raises ValueError."""
    _Application(settings, app_path, reresolve).run()
    return 0
