"""The `wsgi-s3` command: serve | gateway | node | config | credentials | ring.

The seed's single-dash Go-style flags are accepted as written (`-listen=:9000 -data=./data`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import fields

from wsgi_s3 import __version__
from wsgi_s3.cluster.ring import DEFAULT_VNODES, Ring, parse_nodes
from wsgi_s3.config import ENV_ALIASES, MODES, ConfigError, Settings, is_secret, resolve, sample_ini, settings_for

# Go-style flag names of the seed mapped to ours.
_SEED_FLAGS = {"data": "data-dir", "log_level": "log-level", "aws_access_key": "access-key", "aws_secret_key": "secret-key", "aws_region": "region"}
_SEED_FLAG = re.compile(r"^-([a-z][a-z_]+)(=.*)?$")


def translate_seed_flags(argv: list[str]) -> list[str]:
    """`-mode=serve -listen=:9000` -> `serve --listen=:9000`."""
    out: list[str] = []
    mode = None
    for arg in argv:
        match = _SEED_FLAG.match(arg)
        if not match:
            out.append(arg)
            continue
        name, value = match.group(1), match.group(2) or ""
        if name == "mode":
            mode = value[1:]
            continue
        out.append("--" + _SEED_FLAGS.get(name, name).replace("_", "-") + value)
    return ([mode] if mode else []) + out


# Flags besides --name-of-the-setting: the seed's -data, -w and -r.
_FLAG_ALIASES = {"data_dir": ("--data",), "write_quorum": ("-w",), "read_quorum": ("-r",)}


def _add_server_flags(parser: argparse.ArgumentParser, mode: str | None = "serve") -> None:
    """--config and a flag for every setting a `mode` service reads (None: every service's)."""
    parser.add_argument("--config", action="append", default=[], help="ini file (repeatable; later files win)")
    for f in fields(Settings):
        if not f.metadata["modes"] or (mode is not None and mode not in f.metadata["modes"]):
            continue
        text = f.metadata["doc"] + f" (default: {f.default!r})"
        if f.metadata["secret"]:
            text += " A secret: `ps` shows flags to every user; prefer an ini file or WSGI_S3_" + f.name.upper() + "."
        parser.add_argument("--" + f.name.replace("_", "-"), *_FLAG_ALIASES.get(f.name, ()), dest=f.name, help=text.replace("%", "%%"))


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of this command line, resolved from flags, environment, ini files and defaults."""
    return _resolve(args)[0]


def _resolve(args: argparse.Namespace) -> tuple[Settings, dict[str, str]]:
    flags = {f.name: getattr(args, f.name) for f in fields(Settings) if getattr(args, f.name, None) is not None}
    settings, origins = resolve(flags, args.config)
    settings.data_dir = os.path.abspath(settings.data_dir)
    return settings, origins


def _service_settings(args: argparse.Namespace) -> Settings:
    """The settings of a service, checked as a whole (ConfigError if it cannot work); also what a reload re-reads."""
    settings = _settings(args)
    problem = _cluster_problem(settings) if settings.mode == "gateway" else None
    if settings.mode == "node" and not settings.auth_token:
        problem = "a node needs the cluster token: WSGI_S3_AUTH_TOKEN, auth_token in an ini file, or --auth-token"
    if bool(settings.access_key) != bool(settings.secret_key):  # half a root key would sign with an empty secret
        problem = "set both the access key and the secret key, or neither"
    if problem:
        raise ConfigError(problem)
    return settings


def _root_key(settings: Settings) -> int:
    """Without any key (and no anonymous access), create one and print it once. 0 if all is well."""
    from wsgi_s3.gateway.auth import credential_store, generate_credential

    credentials = credential_store(settings.credentials_path, settings.access_key, settings.secret_key)
    if not len(credentials) and not settings.allow_anonymous:
        root = generate_credential()
        credentials.add(root)
        print(
            "wsgi-s3: created a root key pair (kept in %s, shown once):\n"
            "  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s" % (credentials.path, root.access_key, root.secret_key),
            flush=True,
        )
    return 0


def serve(args: argparse.Namespace) -> int:
    from wsgi_s3.server import run_gunicorn
    from wsgi_s3.store.blobs import make_private_dirs

    settings = _service_settings(args)
    make_private_dirs(settings.data_dir)  # the service's own: mode 0700
    if _root_key(settings):
        return 2
    return run_gunicorn(settings, "wsgi_s3.wsgi:embedded_app", lambda: _service_settings(args))


def gateway(args: argparse.Namespace) -> int:
    """The S3 gateway of a cluster; its data directory holds only its credentials file."""
    from wsgi_s3.server import run_gunicorn
    from wsgi_s3.store.blobs import make_private_dirs

    settings = _service_settings(args)
    make_private_dirs(settings.data_dir)
    if _root_key(settings):
        return 2
    return run_gunicorn(settings, "wsgi_s3.wsgi:gateway_app", lambda: _service_settings(args))


def _cluster_problem(settings: Settings) -> str | None:
    """Why a gateway configuration cannot work, or None."""
    from wsgi_s3.cluster.ring import Ring, parse_nodes

    if not settings.nodes:
        return "a gateway needs its storage nodes: --nodes URL,URL,... (or nodes = in an ini file)"
    try:
        Ring(parse_nodes(settings.nodes)).check_replicas(settings.replicas)
    except ValueError as exc:
        return str(exc)
    n, w, r = settings.replicas, settings.write_quorum, settings.read_quorum
    if not 1 <= w <= n:
        return f"the write quorum W={w} must be between 1 and the number of replicas N={n}"
    if not 1 <= r <= n:
        return f"the read quorum R={r} must be between 1 and the number of replicas N={n}"
    if not settings.backend_auth_token:
        return "a gateway needs the cluster token the nodes require: WSGI_S3_BACKEND_AUTH_TOKEN, backend_auth_token in an ini file, or --backend-auth-token"
    return None


def node(args: argparse.Namespace) -> int:
    from wsgi_s3.server import run_gunicorn
    from wsgi_s3.store.blobs import make_private_dirs

    settings = _service_settings(args)
    make_private_dirs(settings.data_dir)
    return run_gunicorn(settings, "wsgi_s3.wsgi:node_app", lambda: _service_settings(args))


def credentials_command(args: argparse.Namespace) -> int:
    """Credentials of the cluster when nodes are configured, else of the credentials file."""
    from wsgi_s3.admin import credentials as admin

    settings = _settings(args)
    try:
        return admin.run(settings, args)
    except admin.AdminError as error:
        print(f"wsgi-s3: {error}", file=sys.stderr)
        return 2


def cluster_command(args: argparse.Namespace) -> int:
    """`cluster status`: exit 0 when every node answered, 1 when some did not, 2 on bad settings."""
    from wsgi_s3.cluster.node_client import NodeClient
    from wsgi_s3.cluster.status import cluster_status

    settings = _settings(args)
    try:
        nodes = parse_nodes(settings.nodes)
    except ValueError as error:
        print(f"wsgi-s3: {error}", file=sys.stderr)
        return 2
    if not settings.backend_auth_token:
        print("wsgi-s3: the nodes' cluster token is needed: WSGI_S3_BACKEND_AUTH_TOKEN or backend_auth_token in an ini file", file=sys.stderr)
        return 2
    clients = {node.url: NodeClient(node.url, settings.backend_auth_token, connect_timeout=2, read_timeout=10) for node in nodes}
    lines, all_up = cluster_status(clients)
    print("\n".join(lines))
    return 0 if all_up else 1


def ring_command(args: argparse.Namespace) -> int:
    """Where keys go (with KEYs), or each node's share of the key space (without)."""
    try:
        ring = Ring(parse_nodes(args.nodes), args.vnodes)
        ring.check_replicas(args.replicas)
        for key in args.keys:
            bucket, slash, _ = key.partition("/")
            if not bucket or not slash:
                raise ValueError(f"{key!r}: a key is written bucket/key")
    except ValueError as error:
        print(f"wsgi-s3: {error}", file=sys.stderr)
        return 2
    for key in args.keys:
        handoff = next(ring.handoffs(key, args.replicas), None)
        owners = " ".join(node.url for node in ring.primaries(key, args.replicas))
        print(f"{key} -> {owners} (handoff: {handoff.url if handoff else 'none'})")
    if args.keys:
        return 0
    first, held = ring.shares(1), ring.shares(args.replicas)
    total_weight = sum(node.weight for node in ring.nodes)
    print(f"{len(ring.nodes)} nodes, {ring.vnodes} virtual nodes per unit of weight, {args.replicas} replicas")
    print(f"{'node':<40} {'weight':>6} {'fair':>7} {'first':>7} {'holds':>7}")
    for node in ring.nodes:
        fair = node.weight / total_weight
        print(f"{node.url:<40} {node.weight:>6g} {fair:>7.1%} {first[node]:>7.1%} {held[node]:>7.1%}")
    print("fair: weight / total weight; first: share of keys it owns first;")
    print("holds: share of objects with a replica on it")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsgi-s3", description="An S3-compatible object store.")
    parser.add_argument("--version", action="version", version=f"wsgi-s3 {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="embedded single-node S3 server (gateway and store in one service)")
    _add_server_flags(serve_parser)
    serve_parser.set_defaults(run=serve, mode="serve")
    node_parser = commands.add_parser("node", help="storage node: the cluster's internal API over one data directory")
    _add_server_flags(node_parser, "node")
    node_parser.set_defaults(run=node, mode="node")
    gateway_parser = commands.add_parser("gateway", help="S3 gateway of a cluster: places and replicates objects on storage nodes")
    _add_server_flags(gateway_parser, "gateway")
    gateway_parser.set_defaults(run=gateway, mode="gateway")
    creds = commands.add_parser("credentials", help="manage access keys: create NAME PERMS, list, show NAME, rotate NAME, revoke NAME")
    creds.add_argument("action", choices=("create", "list", "show", "rotate", "revoke"))
    creds.add_argument("name", nargs="?", help="the credential's name (show, rotate and revoke also take its access key)")
    creds.add_argument("permissions", nargs="?", default="*", help="create: comma-separated read, write, delete, or * (default *)")
    creds.add_argument("--buckets", default="", help="create: only these buckets, b1,b2 (default: all)")
    creds.add_argument("--prefixes", default="", help="create: only keys starting with these, p1/,p2/ (default: all)")
    creds.add_argument("--token", action="store_true", help="create: also issue a bearer token (only its SHA-256 is stored)")
    _add_server_flags(creds)
    creds.add_argument("--nodes", help="keep the credentials in this cluster (URL,...), as its gateways read them")
    creds.add_argument("--backend-auth-token", dest="backend_auth_token", help="the nodes' cluster token (prefer WSGI_S3_BACKEND_AUTH_TOKEN)")
    creds.set_defaults(run=credentials_command)
    cluster = commands.add_parser("cluster", help="the cluster as its nodes see it")
    cluster.add_argument("action", choices=("status",))
    cluster.add_argument("--nodes", help="storage nodes, URL[=WEIGHT],... (or nodes = in an ini file)")
    cluster.add_argument("--config", action="append", default=[], help="ini file (repeatable; later files win)")
    cluster.set_defaults(run=cluster_command)
    ring = commands.add_parser("ring", help="show which nodes own keys, or each node's share of the key space")
    ring.add_argument("--nodes", required=True, help="URL[=WEIGHT],... e.g. http://10.0.0.1:9001,http://10.0.0.2:9001=2")
    ring.add_argument("--replicas", type=int, default=3, help="owners per object (default 3)")
    ring.add_argument(
        "--vnodes", type=int, default=DEFAULT_VNODES, help=f"virtual nodes per unit of weight (default {DEFAULT_VNODES})"
    )
    ring.add_argument("keys", nargs="*", metavar="KEY", help="bucket/key to place (without: print each node's share)")
    ring.set_defaults(run=ring_command)
    config = commands.add_parser("config", help="print the effective settings and their sources, or a sample ini file")
    config.add_argument("action", choices=("show", "sample"))
    config.add_argument("--mode", choices=MODES, help="the service whose settings to print (default: S3_MODE, else serve)")
    _add_server_flags(config, None)
    config.set_defaults(run=config_command)
    return parser


def config_command(args: argparse.Namespace) -> int:
    """`config show`: each setting of the service, its value (secrets masked) and where it came from;
    `config sample`: the commented ini file of the service (conf/<mode>.ini is this output)."""
    settings, origins = _resolve(args)
    if args.action == "sample":
        print(sample_ini(settings.mode), end="")
        return 0
    print(f"; wsgi-s3 {settings.mode}: effective settings and where each came from (mode: {origins['mode']})")
    for f in settings_for(settings.mode):
        value = getattr(settings, f.name)
        shown = "********" if is_secret(f.name) and value else str(value).lower() if isinstance(value, bool) else str(value)
        print(f"{f.name} = {shown}".ljust(48) + f" ; {origins[f.name]}")
    return 0


def _with_mode(argv: list[str]) -> list[str]:
    """The seed runs the service S3_MODE names when the command line names none."""
    mode = os.environ.get(ENV_ALIASES["mode"])
    if mode and not any(arg in MODES or arg in ("config", "credentials", "ring") for arg in argv) and "--version" not in argv:
        return [mode, *argv]
    return argv


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(_with_mode(translate_seed_flags(sys.argv[1:] if argv is None else argv)))
    try:
        sys.exit(args.run(args))
    except ConfigError as exc:
        print(f"wsgi-s3: {exc}", file=sys.stderr)
        sys.exit(2)
