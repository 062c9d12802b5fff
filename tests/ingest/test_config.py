"""Settings from the environment: production refuses to start without its secrets, development
generates them once beside the database, and every tuning knob is checked at start."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.config import DEV_SECRETS_FILE, ConfigError, load_settings
from tests.conftest import ADMIN_TOKEN, KEY_HASH_SECRET, free_port, optiview, service_env


def environ(tmp_path: Path, **values: str) -> dict[str, str]:
    """A pure mapping, as load_settings takes it; the database always lives in tmp_path."""
    return {"OPTIVIEW_DB": str(tmp_path / "data" / "o.db"), **values}


def production(tmp_path: Path, **values: str) -> dict[str, str]:
    defaults = {
        "OPTIVIEW_ENV": "production",
        "OPTIVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
        "KEY_HASH_SECRET": KEY_HASH_SECRET,
    }
    return environ(tmp_path, **{**defaults, **values})


# --- production --------------------------------------------------------------------------------


def test_production_without_key_hash_secret_names_it(tmp_path: Path) -> None:
    env = production(tmp_path)
    del env["KEY_HASH_SECRET"]
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "KEY_HASH_SECRET" in str(caught.value)
    assert "OPTIVIEW_ADMIN_TOKEN" not in str(caught.value)
    assert not (tmp_path / "data" / DEV_SECRETS_FILE).exists()


def test_production_without_admin_token_names_it(tmp_path: Path) -> None:
    env = production(tmp_path, OPTIVIEW_ADMIN_TOKEN="   ")  # blank counts as missing
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "OPTIVIEW_ADMIN_TOKEN" in str(caught.value)
    assert "KEY_HASH_SECRET" not in str(caught.value)


def test_production_without_both_names_both(tmp_path: Path) -> None:
    env = environ(tmp_path, OPTIVIEW_ENV="production")
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "KEY_HASH_SECRET" in str(caught.value)
    assert "OPTIVIEW_ADMIN_TOKEN" in str(caught.value)
    assert not (tmp_path / "data" / DEV_SECRETS_FILE).exists()


def test_production_with_both_uses_them(tmp_path: Path) -> None:
    settings = load_settings(production(tmp_path, OPTIVIEW_ENV=" Production "))
    assert settings.env == "production"
    assert settings.production is True
    assert settings.admin_token == ADMIN_TOKEN
    assert settings.key_hash_secret == KEY_HASH_SECRET.encode()
    assert settings.dev_secrets_file is None
    assert settings.db == tmp_path / "data" / "o.db"
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.busy_timeout_ms == 5000
    assert not (tmp_path / "data" / DEV_SECRETS_FILE).exists()


@pytest.mark.parametrize(
    ("weak", "other"),
    [("OPTIVIEW_ADMIN_TOKEN", "KEY_HASH_SECRET"), ("KEY_HASH_SECRET", "OPTIVIEW_ADMIN_TOKEN")],
)
@pytest.mark.parametrize("value", ["x", "y" * 31, " " + "z" * 31 + " "])
def test_production_refuses_a_weak_secret_by_name_and_rule(
    tmp_path: Path, weak: str, other: str, value: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(production(tmp_path, **{weak: value}))
    message = str(caught.value)
    assert f"{weak} has {len(value.strip())} characters" in message
    assert "production needs at least 32" in message
    assert "optiview secrets" in message
    assert other not in message


def test_production_refuses_both_weak_secrets_in_one_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(production(tmp_path, OPTIVIEW_ADMIN_TOKEN="x", KEY_HASH_SECRET="y"))
    assert "OPTIVIEW_ADMIN_TOKEN has 1 characters" in str(caught.value)
    assert "KEY_HASH_SECRET has 1 characters" in str(caught.value)


def test_production_accepts_secrets_of_exactly_32_characters(tmp_path: Path) -> None:
    settings = load_settings(
        production(tmp_path, OPTIVIEW_ADMIN_TOKEN="a" * 32, KEY_HASH_SECRET="b" * 32)
    )
    assert (settings.admin_token, settings.key_hash_secret) == ("a" * 32, b"b" * 32)


def test_development_accepts_short_secrets(tmp_path: Path) -> None:
    settings = load_settings(environ(tmp_path, OPTIVIEW_ADMIN_TOKEN="x", KEY_HASH_SECRET="y"))
    assert (settings.admin_token, settings.key_hash_secret) == ("x", b"y")


def test_serve_in_production_refuses_weak_secrets(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    env = service_env(db, OPTIVIEW_ENV="production", OPTIVIEW_ADMIN_TOKEN="x", KEY_HASH_SECRET="y")
    result = optiview("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "OPTIVIEW_ADMIN_TOKEN has 1 characters; production needs at least 32" in result.stderr
    assert "KEY_HASH_SECRET has 1 characters; production needs at least 32" in result.stderr
    assert not db.exists()


# --- development -------------------------------------------------------------------------------


def test_development_generates_persisted_secrets_beside_the_db(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = environ(tmp_path)  # OPTIVIEW_ENV unset: development
    with caplog.at_level(logging.WARNING, logger="optiview.config"):
        first = load_settings(env)
    secrets_file = tmp_path / "data" / DEV_SECRETS_FILE
    assert first.env == "development"
    assert first.production is False
    assert first.dev_secrets_file == secrets_file
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    stored = json.loads(secrets_file.read_text())
    assert first.admin_token == stored["admin_token"]
    assert first.key_hash_secret == stored["key_hash_secret"].encode()
    assert len(first.key_hash_secret) >= 32
    assert len(first.admin_token) >= 24
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(secrets_file) in warnings[0].getMessage()
    assert "KEY_HASH_SECRET" in warnings[0].getMessage()

    caplog.clear()
    second = load_settings(env)
    assert second.admin_token == first.admin_token
    assert second.key_hash_secret == first.key_hash_secret
    assert second.dev_secrets_file == secrets_file
    assert json.loads(secrets_file.read_text()) == stored
    # Generated once: no second warning.
    assert [r for r in caplog.records if r.levelno == logging.WARNING] == []


def test_development_configured_values_win_over_generated(tmp_path: Path) -> None:
    generated = load_settings(environ(tmp_path))
    only_token = load_settings(environ(tmp_path, OPTIVIEW_ADMIN_TOKEN=ADMIN_TOKEN))
    assert only_token.admin_token == ADMIN_TOKEN
    assert only_token.key_hash_secret == generated.key_hash_secret
    only_secret = load_settings(environ(tmp_path, KEY_HASH_SECRET=KEY_HASH_SECRET))
    assert only_secret.key_hash_secret == KEY_HASH_SECRET.encode()
    assert only_secret.admin_token == generated.admin_token


def test_development_with_both_configured_writes_no_file(tmp_path: Path) -> None:
    settings = load_settings(
        environ(
            tmp_path,
            OPTIVIEW_ENV="development",
            OPTIVIEW_ADMIN_TOKEN=ADMIN_TOKEN,
            KEY_HASH_SECRET=KEY_HASH_SECRET,
        )
    )
    assert settings.dev_secrets_file is None
    assert settings.admin_token == ADMIN_TOKEN
    assert settings.key_hash_secret == KEY_HASH_SECRET.encode()
    assert not (tmp_path / "data" / DEV_SECRETS_FILE).exists()


# --- checked values ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["staging", "prod", "test"])
def test_invalid_env_is_rejected(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(production(tmp_path, OPTIVIEW_ENV=value))
    assert "OPTIVIEW_ENV" in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "mode"), [("FULL", "FULL"), ("full", "FULL"), ("NORMAL", "NORMAL")]
)
def test_sqlite_synchronous_accepted(tmp_path: Path, raw: str, mode: str) -> None:
    settings = load_settings(production(tmp_path, OPTIVIEW_SQLITE_SYNCHRONOUS=raw))
    assert settings.sqlite_synchronous == mode


@pytest.mark.parametrize("raw", ["bogus", "OFF", "EXTRA"])
def test_sqlite_synchronous_rejected(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(production(tmp_path, OPTIVIEW_SQLITE_SYNCHRONOUS=raw))
    assert "OPTIVIEW_SQLITE_SYNCHRONOUS" in str(caught.value)
    assert raw.upper() in str(caught.value)


@pytest.mark.parametrize("raw", ["abc", "0", "-5", "1.5"])
def test_busy_timeout_rejected(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(production(tmp_path, OPTIVIEW_BUSY_TIMEOUT_MS=raw))
    assert "OPTIVIEW_BUSY_TIMEOUT_MS" in str(caught.value)
    assert raw in str(caught.value)


def test_busy_timeout_accepted(tmp_path: Path) -> None:
    settings = load_settings(production(tmp_path, OPTIVIEW_BUSY_TIMEOUT_MS=" 2500 "))
    assert settings.busy_timeout_ms == 2500


# --- `optiview serve` refuses to start ---------------------------------------------------------


@pytest.mark.parametrize("missing", ["KEY_HASH_SECRET", "OPTIVIEW_ADMIN_TOKEN"])
def test_serve_in_production_refuses_to_start_without_secret(tmp_path: Path, missing: str) -> None:
    db = tmp_path / "o.db"
    env = service_env(db, OPTIVIEW_ENV="production")
    del env[missing]
    started = time.monotonic()
    result = optiview("serve", "--port", str(free_port()), env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert elapsed < 20
    assert missing in result.stderr
    other = ({"KEY_HASH_SECRET", "OPTIVIEW_ADMIN_TOKEN"} - {missing}).pop()
    assert other not in result.stderr
    assert "production" in result.stderr
    # Refused before touching anything: no database, no generated secrets.
    assert not db.exists()
    assert not (tmp_path / DEV_SECRETS_FILE).exists()


def test_bad_setting_in_development_leaves_no_secrets_file(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    with pytest.raises(ConfigError, match="OPTIVIEW_BUSY_TIMEOUT_MS"):
        load_settings({"OPTIVIEW_DB": str(db), "OPTIVIEW_BUSY_TIMEOUT_MS": "soon"})
    assert not (tmp_path / DEV_SECRETS_FILE).exists()


def test_queue_bound_must_fit_one_full_request(tmp_path: Path) -> None:
    env = {"OPTIVIEW_DB": str(tmp_path / "o.db"), "OPTIVIEW_QUEUE_MAX_EVENTS": "49"}
    with pytest.raises(ConfigError, match="OPTIVIEW_QUEUE_MAX_EVENTS must be at least 50"):
        load_settings(env)


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1:3306/optiview", "redis://h/0"])
def test_a_url_of_another_engine_is_refused_not_taken_for_a_path(url: str) -> None:
    with pytest.raises(ConfigError, match=r"OPTIVIEW_DB is a .* URL: the service stores in"):
        load_settings({"OPTIVIEW_DB": url})


@pytest.mark.parametrize(
    "url", ["postgresql://postgres@127.0.0.1:5432/optiview", "postgres://db/x"]
)
def test_a_postgresql_url_selects_postgresql_and_dev_secrets_go_to_the_data_folder(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"OPTIVIEW_DB": url})
    assert settings.db == url
    assert settings.pg_synchronous_commit is True
    assert settings.dev_secrets_file == Path("data") / ".optiview-dev-secrets.json"
    off = load_settings({"OPTIVIEW_DB": url, "OPTIVIEW_PG_SYNCHRONOUS_COMMIT": "off"})
    assert off.pg_synchronous_commit is False


@pytest.mark.parametrize("command", [["migrate"], ["org", "list"], ["purge", "run"]])
def test_commands_refuse_an_unknown_url_scheme_and_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    env = service_env(tmp_path / "unused.db", OPTIVIEW_DB="mysql://root@127.0.0.1/x")
    result = subprocess.run(
        [sys.executable, "-m", "ingest", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "OPTIVIEW_DB is a mysql URL" in result.stderr
    assert "postgresql://" in result.stderr  # what is accepted instead
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no folder named "mysql:"


@pytest.mark.parametrize("command", [["migrate"], ["org", "list"], ["purge", "run"]])
def test_commands_on_an_unreachable_postgresql_say_so_without_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    port = free_port()  # nothing listens there
    env = service_env(
        tmp_path / "unused.db", OPTIVIEW_DB=f"postgresql://postgres@127.0.0.1:{port}/x"
    )
    result = subprocess.run(
        [sys.executable, "-m", "ingest", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "cannot" in result.stderr and str(port) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
