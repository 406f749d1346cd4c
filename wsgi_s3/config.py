"""Typed settings and where they come from: flags, then environment, then ini files, then defaults.

Every setting has one name used everywhere: `--data-dir` on the command line, `WSGI_S3_DATA_DIR`
in the environment, `data_dir` in the ini file (any section; sections only group them for people).
"""

from __future__ import annotations

import configparser
import json
import os
from dataclasses import asdict, dataclass, fields

ENV_PREFIX = "WSGI_S3_"
SETTINGS_ENV = "WSGI_S3_SETTINGS"  # how the CLI hands resolved settings to gunicorn workers


@dataclass
class Settings:
    listen: str = "127.0.0.1:9000"
    data_dir: str = "./data"
    workers: int = 2
    worker_connections: int = 1000
    timeout: int = 300  # seconds a worker may stay silent (a slow 5 GiB upload is not silence)
    log_level: str = "info"
    region: str = "us-east-1"
    # When set, SigV4 scopes naming another region are refused (as Amazon does); empty accepts any.
    enforce_region: bool = False
    domain: str = ""  # virtual-hosted style: <bucket>.<domain>
    access_key: str = ""
    secret_key: str = ""
    allow_anonymous: bool = False
    credentials_file: str = ""  # default: <data_dir>/credentials.json
    certfile: str = ""
    keyfile: str = ""
    sweep_interval: int = 300  # seconds between sweeps (orphans, freed blobs)
    sweep_grace: int = 3600  # seconds before a file that no commit recorded counts as orphaned
    reclaim_grace: int = 300  # seconds a blob freed by a delete or overwrite stays on disk
    lock_timeout: int = 10  # seconds a write waits for the store's lock before answering SlowDown
    tombstone_grace: int = 7  # days a deleted version's tombstone is kept (Swift's reclaim_age)
    gunicorn_config: str = ""  # default: the packaged wsgi_s3.gunicorn_conf
    # The cluster token nodes require of every request (a secret: prefer WSGI_S3_AUTH_TOKEN or an
    # ini file to the --auth-token flag, which `ps` shows to every user of the host).
    auth_token: str = ""
    mode: str = "serve"  # which service this is: serve, node or gateway (set by the command)
    # gateway: the storage nodes, URL[=WEIGHT],... (see cluster/ring.py), and the replication
    nodes: str = ""
    replicas: int = 3  # owners of each object (N)
    write_quorum: int = 2  # owners that must commit a write before it is acknowledged (W)
    read_quorum: int = 1  # owners a read asks (R); W + R > N reads your own writes
    backend_auth_token: str = ""  # the cluster token sent to the nodes (a secret, like auth_token)
    node_timeout: int = 30  # seconds a node may stay silent in a request before it counts as down
    repair_interval: int = 300  # gateway: seconds between anti-entropy passes (hints are handed over every 5 s)
    repair_batch: int = 100  # gateway: records compared per request of a pass, hints handed over per node per round
    # lifecycle (daemons/lifecycle.py; run by `serve` and by every gateway, once per cluster by lease)
    lifecycle_interval: int = 3600  # seconds between passes applying the buckets' expiration rules
    lifecycle_batch: int = 100  # keys or uploads per batch; the lease and progress are saved after each
    lifecycle_pause_ms: int = 100  # pause between batches, so that the daemon never starves serving
    mp_ttl: int = 86400  # seconds a multipart upload may stay unfinished before it is aborted (0: no limit)
    mp_sweep_interval: int = 600  # seconds between passes aborting abandoned multipart uploads
    lifecycle_clock_offset: int = 0  # FOR TESTS ONLY: seconds added to "now" when judging ages
    lifecycle_lease: int = 300  # seconds before another gateway takes over the passes of one that died

    @property
    def credentials_path(self) -> str:
        return self.credentials_file or os.path.join(self.data_dir, "credentials.json")

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(SETTINGS_ENV)
        return cls(**json.loads(raw)) if raw else cls()


_AWS_ENV = {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY"}


def _convert(name: str, value: str) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "int":
        return int(value)
    if kind == "bool":
        lowered = value.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ValueError(f"{name}: expected a boolean, got {value!r}")
        return lowered in ("1", "true", "yes", "on")
    return value


def load(flags: dict[str, str], config_files: list[str], environ: dict[str, str] | None = None) -> Settings:
    """Resolve settings: `flags` (already parsed, only those given) > environment > ini files
    (later files win) > defaults."""
    environ = os.environ if environ is None else environ
    known = {f.name for f in fields(Settings)}
    values: dict[str, object] = {}
    for path in config_files:
        parser = configparser.ConfigParser(interpolation=None)
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
        for section in parser.sections():
            for name, value in parser.items(section):
                if name not in known:
                    raise ValueError(f"{path}: unknown setting {name!r} in [{section}]")
                if value.strip():  # an empty value in the sample file means "the default"
                    values[name] = _convert(name, value)
    for name in known:
        env_value = environ.get(ENV_PREFIX + name.upper()) or (environ.get(_AWS_ENV[name]) if name in _AWS_ENV else None)
        if env_value:
            values[name] = _convert(name, env_value)
    for name, value in flags.items():
        if name not in known:
            raise ValueError(f"unknown setting {name!r}")
        values[name] = _convert(name, str(value))
    return Settings(**values)
