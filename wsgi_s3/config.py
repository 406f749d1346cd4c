"""Typed settings and where they come from: flags, then environment, then ini files, then defaults.

Every setting has one name used everywhere: `--data-dir` on the command line, `WSGI_S3_DATA_DIR`
in the environment, `data_dir` in the ini file (any section; sections only group them for people).
Each field's metadata (what it does, which services read it) is the one place a setting is documented:
the flags' help and the sample files conf/serve.ini, conf/gateway.ini and conf/node.ini are made
from it (`wsgi-s3 config sample --mode MODE`).
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import Field, dataclass, field, fields
from typing import Any

ENV_PREFIX = "WSGI_S3_"
MODES = ("serve", "gateway", "node")
_S3 = ("serve", "gateway")  # services S3 clients talk to
_STORE = ("serve", "node")  # services with a store of their own
# The seed's environment variables, read after WSGI_S3_<NAME>.
ENV_ALIASES = {
    "mode": "S3_MODE",
    "listen": "S3_LISTEN",
    "nodes": "S3_NODES",
    "access_key": "AWS_ACCESS_KEY_ID",
    "secret_key": "AWS_SECRET_ACCESS_KEY",
}


def _setting(
    default: Any, section: str, doc: str, modes: tuple[str, ...] = MODES, *, secret: bool = False,
    seconds: bool = False, choices: tuple[str, ...] = (), minimum: int | None = None,
) -> Any:
    """A field with its documentation; `seconds`: an int that also takes Go durations (5m, 24h)."""
    meta = {"section": section, "doc": doc, "modes": modes, "secret": secret, "seconds": seconds, "choices": choices, "minimum": minimum}
    return field(default=default, metadata=meta, repr=not secret)  # no secret in a logged repr


@dataclass
class Settings:
    listen: str = _setting("127.0.0.1:9000", "server", "HOST:PORT to listen on; \":9000\" means every interface.")
    data_dir: str = _setting(
        "./data", "store", "The service's data directory (a gateway keeps only its credentials there)."
    )
    workers: int = _setting(2, "server", "gunicorn gevent workers (processes); each serves many connections.", minimum=1)
    worker_connections: int = _setting(1000, "server", "Connections each worker serves at once.", minimum=1)
    timeout: int = _setting(
        300, "server", "Seconds a worker may stay silent before gunicorn restarts it (a slow 5 GiB upload is not silence).",
        seconds=True, minimum=1,
    )
    log_level: str = _setting("info", "server", "Log level: debug, info, warning or error.", choices=("debug", "info", "warning", "warn", "error", "critical"))
    region: str = _setting("us-east-1", "s3", "Region reported to clients (GetBucketLocation, x-amz-bucket-region).", _S3)
    # When set, SigV4 scopes naming another region are refused (as Amazon does); empty accepts any.
    enforce_region: bool = _setting(False, "s3", "Refuse SigV4 signatures scoped to another region, as Amazon does. Off: any region signs.", _S3)
    domain: str = _setting(
        "", "s3", "Virtual-hosted-style requests: <bucket>.<domain> (e.g. s3.localhost). Empty: path style only.", _S3
    )
    access_key: str = _setting(
        "", "auth", "The root key pair (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). If neither is set, the first "
        "start generates one into the credentials file and prints it once.", _S3,
    )
    secret_key: str = _setting("", "auth", "The root key's secret (see access_key).", _S3, secret=True)
    allow_anonymous: bool = _setting(False, "auth", "Let unsigned requests read objects and listings (never write, delete or list the buckets).", _S3)
    credentials_file: str = _setting("", "auth", "The access keys (mode 0600). Empty: <data_dir>/credentials.json.", _S3)
    certfile: str = _setting(
        "", "server", "Serve https directly with this PEM certificate (for one machine; in production nginx terminates "
        "TLS: conf/nginx/wsgi-s3.conf).",
    )
    keyfile: str = _setting("", "server", "The certificate's private key (PEM).")
    sweep_interval: int = _setting(
        300, "store", "Seconds between sweeps (one sweeper per data directory, in the gunicorn master, off the request path).",
        _STORE, seconds=True, minimum=1,
    )
    sweep_grace: int = _setting(
        3600, "store", "Age (seconds) before a temp file of a dead writer, or a blob no commit recorded, counts as orphaned. "
        "A temp file a live upload is still writing is never removed, however slow the upload.", _STORE, seconds=True, minimum=0,
    )
    reclaim_grace: int = _setting(
        300, "store", "Seconds a blob freed by a delete or an overwrite stays on disk before the sweeper reclaims it.",
        _STORE, seconds=True, minimum=0,
    )
    lock_timeout: int = _setting(
        10, "store", "Seconds a write waits for another process's lock on the store before it answers 503 SlowDown.",
        _STORE, seconds=True, minimum=1,
    )
    tombstone_grace: int = _setting(
        7, "store", "Days a deleted version is remembered (a tombstone), so that no late write or repair brings it back. "
        "Longer than any node may stay down and still rejoin; Swift's reclaim_age is 7 days too.", _STORE, minimum=1,
    )
    gunicorn_config: str = _setting("", "server", "A gunicorn config file of your own (default: the packaged wsgi_s3/gunicorn_conf.py).")
    auth_token: str = _setting(
        "", "auth", "On a node: the token it requires of every request (`Authorization: Bearer <token>`), the same on "
        "every node of a cluster. On serve or a gateway: a bearer token clients may send instead of signing (every "
        "permission; the spec's -auth_token). A secret: set it here, in a file only the service can read, or in "
        "WSGI_S3_AUTH_TOKEN; the --auth-token flag works too but shows in `ps` to every user of the host.", secret=True,
    )
    # Which service this is; set by the command (serve, gateway, node), -mode= or S3_MODE, never by a file.
    mode: str = _setting("serve", "", "", (), choices=MODES)
    nodes: str = _setting(
        "", "cluster", "The storage nodes, URL[=WEIGHT],... (e.g. http://10.0.0.1:9001,http://10.0.0.2:9001=2); or S3_NODES.", ("gateway",)
    )
    replicas: int = _setting(3, "cluster", "Owners of each object (N).", ("gateway",))
    write_quorum: int = _setting(2, "cluster", "Owners that must commit a write before it is acknowledged (W).", ("gateway",))
    read_quorum: int = _setting(1, "cluster", "Owners a read asks (R); W + R > N reads your own writes.", ("gateway",))
    backend_auth_token: str = _setting(
        "", "cluster", "The cluster token sent to the nodes (their auth_token). A secret, like auth_token: prefer this "
        "file or WSGI_S3_BACKEND_AUTH_TOKEN to the flag.", ("gateway",), secret=True,
    )
    node_timeout: int = _setting(
        30, "cluster", "Seconds a node may stay silent in a request before it counts as down.", ("gateway",), seconds=True, minimum=1
    )
    repair_interval: int = _setting(
        300, "maintenance", "Seconds (or a duration: 5m) between anti-entropy repair passes.", ("gateway",), seconds=True, minimum=1
    )
    repair_batch: int = _setting(100, "maintenance", "Objects compared per repair batch.", ("gateway",), minimum=1)
    repair_lease: int = _setting(
        60, "maintenance", "Seconds the repair lease lasts unrenewed (its holder renews it every few seconds): how long "
        "the other gateways wait before one of them takes over the repair of a gateway that died.", ("gateway",), seconds=True, minimum=1,
    )
    mp_sweep_interval: int = _setting(
        600, "maintenance", "Seconds (or a duration: 10m) between sweeps for abandoned multipart uploads.", _S3, seconds=True, minimum=1
    )
    # Applied by the lifecycle daemon of serve or of the gateways (daemons/lifecycle.py), through the Backend.
    mp_ttl: int = _setting(
        86400, "maintenance", "Age (seconds, or a duration: 24h) after which an unfinished multipart upload is aborted; "
        "0: only the buckets' AbortIncompleteMultipartUpload rules abort uploads.",
        _S3, seconds=True, minimum=0,
    )
    metrics_listen: str = _setting(
        "", "metrics", "The metrics port (/metrics, /debug/*, /health, no authentication): HOST:PORT, off, or empty for the "
        "service's default: 127.0.0.1:9091 for serve and gateway, none for a node (its own port serves them with the token).",
    )
    metrics_dir: str = _setting("", "metrics", "prometheus-client's multiprocess files. Empty: a new private temporary directory.")
    health_access: str = _setting(
        "open", "metrics", "Who may read /health and /ready on the service's port: open, token (Authorization: Bearer "
        "<status_token>) or off.", choices=("open", "token", "off"),
    )
    status_access: str = _setting(
        "off", "metrics", "Who may read /metrics and /debug/* on the service's port: open, token or off (on an S3 port they "
        "are then plain bucket names).", choices=("open", "token", "off"),
    )
    status_token: str = _setting("", "metrics", "The bearer token of health_access / status_access = token.", secret=True)
    node_down_interval: int = _setting(
        10, "cluster", "Seconds a node that could not be reached, timed out or broke a stream off is left alone (requests skip "
        "it at once) before it is tried again; 0: never.", ("gateway",), seconds=True, minimum=0,
    )
    max_body_mb: int = _setting(
        5120, "limits", "Largest request body in MiB (one PutObject or one part; the spec's -max_body_mb): a larger one is "
        "refused with EntityTooLarge before its body is read. 5120 is S3's own limit (5 GiB); more changes nothing.",
        _S3, minimum=1,
    )
    max_inflight: int = _setting(
        1000, "limits", "Requests each worker process serves at once (the service: workers x this; the spec's -max_inflight). "
        "Past it a request is answered 503 SlowDown at once, not queued. Keep it at most worker_connections: a connection "
        "past those waits in the kernel's accept queue.", _S3, minimum=1,
    )
    # the lifecycle daemon (daemons/lifecycle.py): one per serve, and one per gateway taking turns by lease
    lifecycle_interval: int = _setting(
        3600, "lifecycle", "Seconds (or a duration: 1h) between passes that expire objects by the buckets' lifecycle rules.",
        _S3, seconds=True, minimum=1,
    )
    lifecycle_batch: int = _setting(
        100, "lifecycle", "Keys (or uploads) per batch of a lifecycle pass; its progress is saved after each, and a "
        "restarted service resumes from it.", _S3, minimum=1,
    )
    lifecycle_pause_ms: int = _setting(
        100, "lifecycle", "Milliseconds between batches of a lifecycle pass, so that it never starves serving.", _S3, minimum=0
    )
    lifecycle_lease: int = _setting(
        300, "lifecycle", "Seconds a pass's lease lasts unrenewed (it is renewed after every batch): how long the other "
        "gateways wait before one of them takes over the passes of a gateway that died.", _S3, seconds=True, minimum=1,
    )
    lifecycle_clock_offset: int = _setting(
        0, "lifecycle", "FOR TESTS ONLY: seconds added to the lifecycle daemon's clock when it judges ages. Leave at 0.",
        _S3, seconds=True, minimum=0,
    )

    @property
    def credentials_path(self) -> str:
        return self.credentials_file or os.path.join(self.data_dir, "credentials.json")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the setting and where it came from."""


_FIELDS: dict[str, Field] = {f.name: f for f in fields(Settings)}
for _field in _FIELDS.values():  # a plain field would have no flag, no docs and no place in conf/*.ini
    if "modes" not in _field.metadata:
        raise TypeError(f"Settings.{_field.name}: declare it with _setting(default, section, doc, modes), then regenerate "
                        "conf/<mode>.ini with `wsgi-s3 config sample --mode <mode>`")
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds from `300` or a Go-style duration such as `5m`, `1h30m`, `24h` (and `7d`)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"expected seconds or a duration such as 5m or 24h, got {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def convert(name: str, raw: str) -> object:
    """The typed value of setting `name` written as `raw`; ValueError saying what is wrong."""
    f = _FIELDS[name]
    meta = f.metadata
    value: object
    if f.type == "int":
        if meta["seconds"]:
            value = parse_duration(raw)
        else:
            if not re.fullmatch(r"-?\d+", raw.strip()):
                raise ValueError(f"expected an integer, got {raw!r}")
            value = int(raw)
        if meta["minimum"] is not None and value < meta["minimum"]:
            raise ValueError(f"must be at least {meta['minimum']}, got {raw!r}")
    elif f.type == "bool":
        lowered = raw.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ValueError(f"expected a boolean (true or false), got {raw!r}")
        value = lowered in ("1", "true", "yes", "on")
    else:
        value = raw.strip()
        if meta["choices"] and value not in meta["choices"]:
            raise ValueError(f"expected one of {', '.join(meta['choices'])}, got {raw!r}")
    return value


def read_ini(path: str) -> list[tuple[str, str, int]]:
    """(name, value, line number) of each `name = value` line; `[sections]` and `;`/`#` comments are skipped."""
    entries = []
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text[0] in ";#" or (text[0] == "[" and text[-1] == "]"):
            continue
        name, equals, value = text.partition("=")
        if not equals:
            raise ConfigError(f"{path}:{number}: expected `name = value` or `[section]`, got {text!r}")
        entries.append((name.strip().lower(), value.strip(), number))
    return entries


def resolve(
    flags: dict[str, str], config_files: list[str], environ: dict[str, str] | None = None
) -> tuple[Settings, dict[str, str]]:
    """Settings and where each came from ("flag --NAME", "env NAME", "file PATH:LINE", "default"):
    `flags` (only those given) > environment > ini files (later files win) > defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    origins = {name: "default" for name in _FIELDS}

    def take(name: str, raw: str, origin: str) -> None:
        try:
            values[name] = convert(name, raw)
        except ValueError as exc:
            raise ConfigError(f"{origin.removeprefix('file ')}: {name}: {exc}") from None
        origins[name] = origin

    for path in config_files:
        for name, raw, line in read_ini(path):
            if name not in _FIELDS:
                raise ConfigError(f"{path}:{line}: unknown setting {name!r}")
            if not _FIELDS[name].metadata["modes"]:
                raise ConfigError(f"{path}:{line}: {name!r} is chosen by the command (serve, gateway, node), not by a file")
            if raw:  # an empty value means "the default", as in the sample files
                take(name, raw, f"file {path}:{line}")
    for name in _FIELDS:
        for variable in (ENV_PREFIX + name.upper(), ENV_ALIASES.get(name)):
            if variable and environ.get(variable):
                take(name, environ[variable], f"env {variable}")
                break
    for name, raw in flags.items():
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {name!r}")
        take(name, str(raw), "flag --" + name.replace("_", "-"))
    return Settings(**values), origins


def load(flags: dict[str, str], config_files: list[str], environ: dict[str, str] | None = None) -> Settings:
    """Resolved settings (see resolve)."""
    return resolve(flags, config_files, environ)[0]


def settings_for(mode: str) -> list[Field]:
    """The fields a `mode` service reads, in declaration order."""
    return [f for f in fields(Settings) if mode in f.metadata["modes"]]


def is_secret(name: str) -> bool:
    return bool(_FIELDS[name].metadata["secret"])


def _ini_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def sample_ini(mode: str) -> str:
    """The commented sample config of a `mode` service: every setting it reads, with its default."""
    lines = [
        f"; wsgi-s3 {mode} settings: `wsgi-s3 {mode} --config FILE`. Every line is commented out with its default.",
        "; Sections only group settings for people: a name means the same in any section.",
        "; Precedence: flags > environment (WSGI_S3_<NAME>; S3_MODE, S3_LISTEN, S3_NODES, AWS_ACCESS_KEY_ID,",
        "; AWS_SECRET_ACCESS_KEY) > ini files (later files win) > defaults. `wsgi-s3 config show` prints the result.",
        "; Generated from wsgi_s3/config.py by `wsgi-s3 config sample --mode " + mode + "`.",
    ]
    section = None
    for f in sorted(settings_for(mode), key=lambda f: _section_order(mode).index(f.metadata["section"])):
        if f.metadata["section"] != section:
            section = f.metadata["section"]
            lines += ["", f"[{section}]"]
        lines += ["; " + line for line in textwrap.wrap(f.metadata["doc"], 100)]
        lines.append(f";{f.name} = {_ini_value(f.default)}".rstrip())
    return "\n".join(lines) + "\n"


def _section_order(mode: str) -> list[str]:
    order: list[str] = []
    for f in settings_for(mode):
        if f.metadata["section"] not in order:
            order.append(f.metadata["section"])
    return order


_active: Settings | None = None


def activate(settings: Settings) -> None:
    """Make `settings` the ones this process serves with: the gunicorn master sets them before it
    forks, so workers inherit them in memory and secrets never pass through the environment."""
    global _active
    _active = settings


def active() -> Settings:
    """The settings activate() set; without it (gunicorn started by hand), the environment's and defaults."""
    return _active if _active is not None else load({}, [])
