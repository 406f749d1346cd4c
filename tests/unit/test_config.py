"""Settings resolution: precedence, sources, validation, and the sample ini files made from Settings."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from wsgi_s3.cli import _service_settings, _settings, build_parser, translate_seed_flags
from wsgi_s3.config import MODES, ConfigError, Settings, convert, parse_duration, read_ini, resolve, sample_ini, settings_for

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("mode", MODES)
def test_conf_files_are_generated_from_settings(mode):
    """conf/<mode>.ini is exactly what `wsgi-s3 config sample --mode <mode>` prints: no drift."""
    assert (CONF / f"{mode}.ini").read_text() == sample_ini(mode)


@pytest.mark.parametrize("mode", MODES)
def test_every_setting_of_a_mode_is_in_its_file_with_its_real_default(mode):
    documented = {}
    for line in (CONF / f"{mode}.ini").read_text().splitlines():
        match = re.fullmatch(r";([a-z_]+) = ?(.*)", line)
        if match:
            assert match.group(1) not in documented, f"{match.group(1)} documented twice"
            documented[match.group(1)] = match.group(2)
    expected = {f.name: f.default for f in settings_for(mode)}
    assert set(documented) == set(expected)
    for name, raw in documented.items():
        assert (convert(name, raw) if raw else "") == expected[name]
    readers = {f.name for m in MODES for f in settings_for(m)}
    assert readers == {f.name for f in fields(Settings)} - {"mode"}  # every setting is read by some service


@pytest.mark.parametrize("mode", MODES)
def test_uncommented_sample_loads_as_the_defaults(mode, tmp_path):
    ini = tmp_path / "all.ini"
    ini.write_text(re.sub(r"(?m)^;([a-z_]+ =)", r"\1", sample_ini(mode)))
    settings, origins = resolve({}, [str(ini)], {})
    assert settings == Settings()
    assert all(origins[f.name].startswith(f"file {ini}:") for f in settings_for(mode) if f.default not in ("",))


def test_precedence_flag_env_file_default(tmp_path):
    first, second = tmp_path / "a.ini", tmp_path / "b.ini"
    first.write_text("[server]\nworkers = 3\nlisten = :7000\nlog_level = debug\n[s3]\nregion = eu-west-1\n")
    second.write_text("; later files win\n[server]\nlog_level = warning\n")
    env = {"WSGI_S3_WORKERS": "4", "WSGI_S3_REGION": "eu-north-1"}
    settings, origins = resolve({"region": "ap-south-1"}, [str(first), str(second)], env)
    assert (settings.region, origins["region"]) == ("ap-south-1", "flag --region")
    assert (settings.workers, origins["workers"]) == (4, "env WSGI_S3_WORKERS")
    assert (settings.listen, origins["listen"]) == (":7000", f"file {first}:3")
    assert (settings.log_level, origins["log_level"]) == ("warning", f"file {second}:3")
    assert (settings.timeout, origins["timeout"]) == (300, "default")


def test_the_seeds_environment_variables():
    env = {
        "S3_MODE": "gateway", "S3_LISTEN": ":9100", "S3_NODES": "http://n1:9001,http://n2:9001",
        "AWS_ACCESS_KEY_ID": "AKIDSEED", "AWS_SECRET_ACCESS_KEY": "seed-secret",
    }
    settings, origins = resolve({}, [], env)
    assert (settings.mode, settings.listen, settings.nodes) == ("gateway", ":9100", "http://n1:9001,http://n2:9001")
    assert (settings.access_key, settings.secret_key) == ("AKIDSEED", "seed-secret")
    assert origins["secret_key"] == "env AWS_SECRET_ACCESS_KEY"
    # The prefixed name is the more specific one and wins.
    assert resolve({}, [], {**env, "WSGI_S3_LISTEN": ":9200"})[0].listen == ":9200"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[server]\nworkerz = 2\n", "unknown setting 'workerz'"),
        ("[server]\nworkers = two\n", "workers: expected an integer, got 'two'"),
        ("[server]\nworkers = 0\n", "workers: must be at least 1"),
        ("[s3]\nenforce_region = maybe\n", "enforce_region: expected a boolean"),
        ("[server]\nlog_level = loud\n", "log_level: expected one of debug"),
        ("[maintenance]\nrepair_interval = 5 minutes\n", "repair_interval: expected seconds or a duration"),
        ("[server]\nmode = node\n", "'mode' is chosen by the command"),
        ("[server]\nworkers\n", "expected `name = value`"),
    ],
)
def test_a_bad_file_names_the_setting_the_file_and_the_line(tmp_path, text, problem):
    ini = tmp_path / "bad.ini"
    ini.write_text("; a comment\n" + text)
    with pytest.raises(ConfigError) as exc:
        resolve({}, [str(ini)], {})
    assert str(exc.value).startswith(f"{ini}:3: ")
    assert problem in str(exc.value)


def test_bad_environment_and_flag_values_name_their_source(tmp_path):
    with pytest.raises(ConfigError, match=r"^env WSGI_S3_REPLICAS: replicas: expected an integer"):
        resolve({}, [], {"WSGI_S3_REPLICAS": "three"})
    with pytest.raises(ConfigError, match=r"^flag --timeout: timeout: "):
        resolve({"timeout": "soon"}, [], {})
    with pytest.raises(ConfigError, match=r"cannot read the config file"):
        resolve({}, [str(tmp_path / "missing.ini")], {})


def test_durations():
    assert [parse_duration(t) for t in ("300", "5m", "1h30m", "24h", "7d", "10s")] == [300, 300, 5400, 86400, 604800, 10]
    for bad in ("", "m5", "5x", "1.5h", "-5m", "5 m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_empty_value_in_a_file_means_the_default(tmp_path):
    ini = tmp_path / "a.ini"
    ini.write_text("[server]\nworkers =\n")
    settings, origins = resolve({}, [str(ini)], {})
    assert (settings.workers, origins["workers"]) == (2, "default")
    assert read_ini(str(ini)) == [("workers", "", 2)]


def test_secrets_stay_out_of_repr():
    settings = Settings(secret_key="s3cr3t-value", auth_token="t0ken-value", backend_auth_token="b4ckend-value")
    assert not {"s3cr3t-value", "t0ken-value", "b4ckend-value"} & set(re.findall(r"[\w-]+", repr(settings)))


def _parse(*argv: str) -> Settings:
    return _settings(build_parser().parse_args(translate_seed_flags(list(argv))))


def test_the_seeds_flags_as_its_tables_write_them(tmp_path):
    ini = tmp_path / "seed.ini"
    ini.write_text("[server]\nworkers = 3\n")
    settings = _parse(
        "-mode=gateway", "-listen=:9000", "-nodes=http://127.0.0.1:9001,http://127.0.0.1:9002", "-replicas=2", "-w=2", "-r=1",
        "-backend_auth_token=tok", "-aws_access_key=AK", "-aws_secret_key=SK", "-aws_region=eu-west-1", "-log_level=debug",
        "-repair_interval=5m", "-repair_batch=50", f"-config={ini}", "-data=./gw",
    )
    assert (settings.mode, settings.listen, settings.replicas, settings.write_quorum, settings.read_quorum) == ("gateway", ":9000", 2, 2, 1)
    assert (settings.access_key, settings.secret_key, settings.region, settings.log_level) == ("AK", "SK", "eu-west-1", "debug")
    assert (settings.repair_interval, settings.repair_batch, settings.workers, settings.backend_auth_token) == (300, 50, 3, "tok")
    node = _parse("-mode=node", "-listen=:9001", "-data=./n1", "-auth_token=tok")
    assert (node.mode, node.auth_token) == ("node", "tok")
    # Multipart cleanup is a gateway's (the seed's table lists it there): its lifecycle daemon does it.
    gateway = _parse("-mode=gateway", "-nodes=http://127.0.0.1:9001", "-mp_ttl=24h", "-mp_sweep_interval=10m")
    assert (gateway.mp_ttl, gateway.mp_sweep_interval) == (86400, 600)
    limits = _parse("-mode=serve", "-max_body_mb=10", "-max_inflight=5")
    assert (limits.max_body_mb, limits.max_inflight) == (10, 5)


@pytest.mark.parametrize("flag", ["-storage_policy=ec", "-ec_data=4", "-ec_parity=2", "-tmp_dir=/tmp"])
def test_the_seeds_flags_not_supported_are_refused(flag, capsys):
    """README, Configuration, says why each is missing; a flag that did nothing would mislead."""
    with pytest.raises(SystemExit) as exc:
        _parse("-mode=gateway", flag)
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_a_service_refuses_half_a_root_key_at_start_and_on_reload(tmp_path, monkeypatch):
    """_service_settings is what start-up and every reload resolve: a root key without its secret
    would accept signatures made with an empty secret."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "WSGI_S3_ACCESS_KEY", "WSGI_S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    ini = tmp_path / "half.ini"
    ini.write_text("[auth]\naccess_key = HALFKEY\n")
    args = build_parser().parse_args(["serve", "--config", str(ini), "--data-dir", str(tmp_path / "d")])
    with pytest.raises(ConfigError, match="set both the access key and the secret key"):
        _service_settings(args)
    ini.write_text("[auth]\naccess_key = WHOLEKEY\nsecret_key = whole-secret\n")
    assert _service_settings(args).secret_key == "whole-secret"
