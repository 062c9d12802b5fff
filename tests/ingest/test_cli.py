"""The `optiview` CLI as an operator uses it: runbook steps 1-4 on a fresh database.

Every command runs as a real subprocess (`python -m ingest ...`), on both backends: a SQLite
file in a temporary directory and a fresh PostgreSQL database (`db_location`); the stored rows
are checked through tests/dbprobe.py. The help, argument and secrets tests touch no database
and run once.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest import __version__
from ingest.cli import build_parser
from ingest.storage.migrations import available
from ingest.storage.sql import Location
from tests import dbprobe, postgres
from tests.conftest import KEY_HASH_SECRET, optiview, service_env

KEY_ID = re.compile(r"^key_[0-9A-Za-z]{10,}$")
SECRET_HASH = re.compile(r"^[0-9a-f]{64}$")
# 32 random bytes in URL-safe base64 are 43 characters, after the `ovsk_` label.
MIN_SECRET_LENGTH = len("ovsk_") + 43
RUNBOOK_SOURCES = ["chatgpt", "claude", "perplexity", "gemini"]


def ok(*args: str, env: dict[str, str]) -> Any:
    """Run a command that must succeed; return its JSON output."""
    result = optiview(*args, env=env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def fails(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command that must fail with exit code 1 and print nothing on stdout."""
    result = optiview(*args, env=env)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert result.stdout == ""
    return result


KEY_COLUMNS = (
    "id, property_id, name, secret_hash, status, created_at, expires_at, revoked_at,"
    " rotated_at, last_used_at"
)


def key_row(db: Location, key_id: str) -> dict[str, Any]:
    found = dbprobe.rows(db, f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
    assert len(found) == 1, key_id
    return dict(zip(KEY_COLUMNS.replace(" ", "").split(","), found[0], strict=True))


def hmac_hex(secret: str) -> str:
    return hmac.new(KEY_HASH_SECRET.encode(), secret.encode(), hashlib.sha256).hexdigest()


@dataclass
class Runbook:
    db: Location
    env: dict[str, str]
    org: dict[str, Any]
    project: dict[str, Any]
    prop: dict[str, Any]
    key: dict[str, Any]
    key_stderr: str


@pytest.fixture(scope="module")
def runbook(db_location: Location) -> Iterator[Runbook]:
    """Runbook steps 1-4 with the CLI only, on a fresh database."""
    db = db_location
    env = service_env(db)
    optiview("migrate", env=env, check=True)
    org = ok(
        "org", "create", "--name", "Acme Corp", "--domain", "acme.com", "--plan", "growth", env=env
    )
    project = ok(
        "project",
        "create",
        "--org",
        org["id"],
        "--name",
        "Acme site",
        "--domain",
        "https://www.Example.com/pricing",
        env=env,
    )
    prop = ok(
        "property",
        "create",
        "--project",
        project["id"],
        "--domain",
        "shop.example.com",
        "--type",
        "app",
        env=env,
    )
    created = optiview(
        "key", "create", "--property", str(prop["id"]), "--name", "Production Website", env=env
    )
    assert created.returncode == 0, created.stderr
    yield Runbook(db, env, org, project, prop, json.loads(created.stdout), created.stderr)


# --- runbook steps 1-4 -------------------------------------------------------------------------


def test_org_create_prints_the_new_org(runbook: Runbook) -> None:
    assert re.fullmatch(r"org_[0-9A-Za-z]{10,}", runbook.org["id"])
    assert runbook.org["name"] == "Acme Corp"
    assert runbook.org["domain"] == "acme.com"
    assert runbook.org["plan"] == "growth"


def test_project_create_normalizes_domain_and_creates_default_property(runbook: Runbook) -> None:
    project = runbook.project
    assert re.fullmatch(r"prj_[0-9A-Za-z]{10,}", project["id"])
    assert project["org_id"] == runbook.org["id"]
    assert project["name"] == "Acme site"
    assert project["domain"] == "example.com"
    assert isinstance(project["default_property_id"], int)
    default = project["default_property"]
    assert default["id"] == project["default_property_id"]
    assert default["domain"] == "example.com"
    assert default["type"] == "website"
    assert default["is_default"] is True
    assert default["active"] is True


def test_property_create_adds_an_exact_site_host(runbook: Runbook) -> None:
    prop = runbook.prop
    assert prop["project_id"] == runbook.project["id"]
    assert prop["domain"] == "shop.example.com"
    assert prop["type"] == "app"
    assert prop["active"] is True
    assert prop["is_default"] is False
    assert prop["id"] != runbook.project["default_property_id"]


def test_key_create_prints_secret_once_and_stores_only_its_hmac(runbook: Runbook) -> None:
    key = runbook.key
    secret = key["secret"]
    assert KEY_ID.match(key["id"])
    assert key["property_id"] == runbook.prop["id"]
    assert key["project_id"] == runbook.project["id"]
    assert key["status"] == "active"
    assert key["name"] == "Production Website"
    assert secret.startswith("ovsk_")
    assert len(secret) >= MIN_SECRET_LENGTH
    assert "shown this once" in runbook.key_stderr

    row = key_row(runbook.db, key["id"])
    assert SECRET_HASH.match(row["secret_hash"])
    assert row["secret_hash"] != secret
    assert row["secret_hash"] == hmac_hex(secret)
    assert row["status"] == "active"
    assert row["property_id"] == runbook.prop["id"]
    # The secret is in no column, whole or without its label.
    for value in row.values():
        assert secret not in str(value)
        assert secret.removeprefix("ovsk_") not in str(value)


def test_key_list_never_shows_a_secret(runbook: Runbook) -> None:
    result = optiview("key", "list", "--property", str(runbook.prop["id"]), env=runbook.env)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)["keys"]
    assert [k["id"] for k in listed] == [runbook.key["id"]]
    assert "secret" not in listed[0]
    assert "secret_hash" not in listed[0]
    assert runbook.key["secret"] not in result.stdout
    assert key_row(runbook.db, runbook.key["id"])["secret_hash"] not in result.stdout


def test_install_prints_the_snippet(runbook: Runbook) -> None:
    info = ok(
        "install",
        "--project",
        runbook.project["id"],
        "--property",
        str(runbook.prop["id"]),
        "--base-url",
        "https://edge.example.net/",
        env=runbook.env,
    )
    assert info["project_id"] == runbook.project["id"]
    assert info["property_id"] == runbook.prop["id"]
    assert info["key_id"] == runbook.key["id"]
    assert info["tag_url"] == "https://edge.example.net/v1/tag.js"
    snippet = info["snippet"]
    assert snippet.startswith('<script async src="https://edge.example.net/v1/tag.js"')
    assert snippet.endswith("></script>")
    assert f'data-key-id="{runbook.key["id"]}"' in snippet
    assert f'data-project-id="{runbook.project["id"]}"' in snippet
    assert f'data-property-id="{runbook.prop["id"]}"' in snippet
    assert 'data-clicks="1"' in snippet
    assert 'data-spa="1"' in snippet
    assert runbook.key["secret"] not in snippet


def test_onboarding_status_after_steps_1_to_4_waits_for_the_tag(runbook: Runbook) -> None:
    status = ok("onboarding-status", "--project", runbook.project["id"], env=runbook.env)
    assert status["project_id"] == runbook.project["id"]
    assert status["org_id"] == runbook.org["id"]
    assert status["complete"] is False
    assert status["total"] == len(status["items"])
    pending = [item["id"] for item in status["items"] if not item["done"]]
    assert pending[0] == "events_arriving"
    assert "purge_running" in pending
    assert "optiview install --project" in status["next_step"]
    keys_item = next(item for item in status["items"] if item["id"] == "key_active")
    assert runbook.key["id"] in keys_item["detail"]


# --- key lifecycle ---------------------------------------------------------------------------


def test_key_rotate_then_revoke_then_rotating_fails(runbook: Runbook) -> None:
    env, prop_id = runbook.env, str(runbook.prop["id"])
    key = ok("key", "create", "--property", prop_id, "--name", "Lifecycle", env=env)
    old_hash = key_row(runbook.db, key["id"])["secret_hash"]

    rotated = ok("key", "rotate", key["id"], env=env)
    assert rotated["id"] == key["id"]
    assert rotated["status"] == "active"
    assert rotated["rotated_at"] is not None
    assert rotated["secret"].startswith("ovsk_")
    assert len(rotated["secret"]) >= MIN_SECRET_LENGTH
    assert rotated["secret"] != key["secret"]
    row = key_row(runbook.db, key["id"])
    assert row["secret_hash"] != old_hash
    assert row["secret_hash"] == hmac_hex(rotated["secret"])
    assert row["secret_hash"] != hmac_hex(key["secret"])

    revoked = ok("key", "revoke", key["id"], env=env)
    assert revoked["id"] == key["id"]
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"] is not None
    assert "secret" not in revoked

    shown = ok("key", "show", key["id"], env=env)
    assert shown["status"] == "revoked"
    assert shown["revoked_at"] == revoked["revoked_at"]
    assert key_row(runbook.db, key["id"])["status"] == "revoked"

    refused = fails("key", "rotate", key["id"], env=env)
    assert "conflict" in refused.stderr
    assert key["id"] in refused.stderr
    # The refused rotation changed nothing.
    assert key_row(runbook.db, key["id"])["secret_hash"] == row["secret_hash"]


# --- AI sources --------------------------------------------------------------------------------


def test_sources_show_and_set(runbook: Runbook) -> None:
    env, project_id = runbook.env, runbook.project["id"]
    shown = ok("sources", "show", "--project", project_id, env=env)
    assert shown["project_id"] == project_id
    assert shown["enabled"] == RUNBOOK_SOURCES
    flags = {s["id"]: s["enabled"] for s in shown["sources"]}
    assert {s for s, on in flags.items() if on} == set(RUNBOOK_SOURCES)
    assert flags["copilot"] is False

    updated = ok("sources", "set", "--project", project_id, "Claude", "copilot", env=env)
    assert updated["enabled"] == ["claude", "copilot"]
    assert {s["id"] for s in updated["sources"] if s["enabled"]} == {"claude", "copilot"}

    unknown = fails("sources", "set", "--project", project_id, "chatgpt", "bard", env=env)
    assert "bard" in unknown.stderr
    assert "known:" in unknown.stderr
    for name in [*RUNBOOK_SOURCES, "copilot"]:
        assert name in unknown.stderr.split("known:", 1)[1]


# --- failure paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "reason"),
    [("localhost", "localhost"), ("10.0.0.1", "IPv4 address")],
)
def test_org_create_rejects_bad_domain(runbook: Runbook, domain: str, reason: str) -> None:
    result = fails(
        "org", "create", "--name", "Bad", "--domain", domain, "--plan", "starter", env=runbook.env
    )
    assert "invalid_domain" in result.stderr
    detail = result.stderr.split("invalid_domain:", 1)[1]
    assert f"'{domain}'" in detail
    assert reason in detail


def test_org_create_rejects_unknown_plan(runbook: Runbook) -> None:
    result = fails(
        "org",
        "create",
        "--name",
        "Acme",
        "--domain",
        "acme.com",
        "--plan",
        "enterprise",
        env=runbook.env,
    )
    assert "invalid_field" in result.stderr
    assert "plan" in result.stderr
    assert "enterprise" in result.stderr
    assert "starter, growth, pro" in result.stderr


def test_project_create_for_unknown_org_is_not_found(runbook: Runbook) -> None:
    result = fails(
        "project",
        "create",
        "--org",
        "org_doesnotexist",
        "--name",
        "X",
        "--domain",
        "x.com",
        env=runbook.env,
    )
    assert "not_found" in result.stderr
    assert "org_doesnotexist" in result.stderr


def test_property_create_with_duplicate_domain_is_a_conflict(runbook: Runbook) -> None:
    # The same host as the runbook's property, typed differently: normalized, then refused.
    result = fails(
        "property",
        "create",
        "--project",
        runbook.project["id"],
        "--domain",
        "https://WWW.Shop.Example.com/",
        env=runbook.env,
    )
    assert "conflict" in result.stderr
    assert "shop.example.com" in result.stderr
    count = dbprobe.value(
        runbook.db,
        "SELECT count(*) FROM properties WHERE project_id = ? AND domain = ?",
        (runbook.project["id"], "shop.example.com"),
    )
    assert count == 1


# --- help and argument errors ----------------------------------------------------------------


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = optiview("--help", env=service_env(tmp_path / "o.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: optiview")
    for command in (
        "serve",
        "migrate",
        "org",
        "project",
        "property",
        "key",
        "sources",
        "install",
        "onboarding-status",
    ):
        assert re.search(rf"^\s+{re.escape(command)}\s", result.stdout, re.MULTILINE), command
    assert not (tmp_path / "o.db").exists()


def test_key_help_lists_the_actions(tmp_path: Path) -> None:
    result = optiview("key", "--help", env=service_env(tmp_path / "o.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: optiview key")
    for action in ("create", "list", "show", "revoke", "rotate"):
        assert re.search(rf"^\s+{action}\s", result.stdout, re.MULTILINE), action


def test_missing_required_argument_exits_2(tmp_path: Path) -> None:
    result = optiview("key", "create", "--property", "1", env=service_env(tmp_path / "o.db"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--name" in result.stderr
    assert "required" in result.stderr
    assert not (tmp_path / "o.db").exists()


# --- what a command imports --------------------------------------------------------------------

# Modules of some commands only (or none): `import ingest.cli`, and building the parser to
# parse another command, must not load them (each costs tens to hundreds of ms per call).
HEAVY_MODULES = (
    "psycopg",  # PostgreSQL, through ingest.storage.sql
    "httpx",  # crawlers refresh, alerts (Slack)
    "alerts.runner",
    "ingest.crawlers.refresh",  # the sources' names load the user-agent classifier
    "yaml",  # the AI sources' data file
    "rich",  # the progress bars of db copy and logs import
)


def loaded_heavy_modules(*command: str) -> list[str]:
    """Which of HEAVY_MODULES a fresh interpreter has loaded after `import ingest.cli` and,
    given a command line, after parsing it as `optiview` does (without running it)."""
    probe = "\n".join(
        [
            "import json, sys",
            "from ingest.cli import build_parser",
            f"if {list(command)!r}: build_parser(lazy=True).parse_args({list(command)!r})",
            f"print(json.dumps(sorted(set(sys.modules) & {set(HEAVY_MODULES)!r})))",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_the_cli_imports_only_what_the_command_given_runs() -> None:
    assert loaded_heavy_modules() == []
    assert loaded_heavy_modules("org", "list") == []
    assert loaded_heavy_modules("migrate") == []
    # The probe sees them when they are loaded: this command's choices come from refresh.py.
    assert {"httpx", "ingest.crawlers.refresh"} <= set(loaded_heavy_modules("crawlers", "refresh"))


def command_paths(parser: argparse.ArgumentParser) -> Iterator[tuple[str, ...]]:
    yield ()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((name, *path) for path in command_paths(sub))


def test_every_help_is_the_same_when_its_parser_is_filled_in_lazily(
    capsys: pytest.CaptureFixture[str],
) -> None:
    whole = build_parser()
    paths = list(command_paths(whole))
    assert ("crawlers", "refresh") in paths and ("sources", "set") in paths
    for path in paths:
        parser = whole
        for name in path:
            parser = next(
                a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
            ).choices[name]
        with pytest.raises(SystemExit) as exit_info:
            build_parser(lazy=True).parse_args([*path, "--help"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out == parser.format_help(), path


# --- secrets -----------------------------------------------------------------------------------


def env_lines(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def generated_secrets(env: dict[str, str]) -> dict[str, str]:
    result = optiview("secrets", env=env)
    assert result.returncode == 0, result.stderr
    return env_lines(result.stdout)


def test_secrets_prints_fresh_strong_values_that_production_accepts(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    # Weak secrets in the environment must not stop the command that replaces them.
    weak = service_env(db, OPTIVIEW_ENV="production", OPTIVIEW_ADMIN_TOKEN="x")
    first, second = generated_secrets(weak), generated_secrets(weak)
    assert set(first) == {"OPTIVIEW_ADMIN_TOKEN", "KEY_HASH_SECRET"}
    assert all(len(value) >= 32 and value.isascii() for value in first.values())
    assert all(first[name] != second[name] for name in first)
    assert first["OPTIVIEW_ADMIN_TOKEN"] != first["KEY_HASH_SECRET"]
    assert not db.exists()
    strong = service_env(db, OPTIVIEW_ENV="production", **first)
    migrated = optiview("migrate", env=strong)
    assert migrated.returncode == 0, migrated.stderr


def test_secrets_output_is_a_dotenv_file(tmp_path: Path) -> None:
    from dotenv import dotenv_values

    result = optiview("secrets", env=service_env(tmp_path / "o.db"))
    env_file = tmp_path / ".env"
    env_file.write_text(result.stdout)
    values = dotenv_values(env_file)
    assert values == env_lines(result.stdout)
    assert set(values) == {"OPTIVIEW_ADMIN_TOKEN", "KEY_HASH_SECRET"}


@pytest.mark.parametrize("value", ["0", "-1", "²", "\u0661", str(2**63)])
def test_property_arguments_follow_the_api_id_rule(tmp_path: Path, value: str) -> None:
    result = optiview("key", "list", "--property", value, env=service_env(tmp_path / "o.db"))
    assert result.returncode == 2
    assert "must be a positive integer" in result.stderr
    assert "Traceback" not in result.stderr


# --- migrate and the console script ----------------------------------------------------------


@pytest.fixture
def empty_location(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Location]:
    """A database of the test's own on the module's backend, with nothing in it yet."""
    if backend == "sqlite":
        yield tmp_path / "o.db"
        return
    server_url: str = request.getfixturevalue("postgres_server")
    with postgres.fresh_database(server_url, "cli_migrate") as url:
        yield url


def test_migrate_applies_then_reports_up_to_date(empty_location: Location) -> None:
    db = empty_location
    env = service_env(db)
    first = optiview("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert "applied" in first.stderr
    assert "0001_provisioning.sql" in first.stderr
    for migration in available():
        assert migration.name in first.stderr

    names = [r[0] for r in dbprobe.rows(db, "SELECT name FROM d1_migrations ORDER BY id")]
    assert names == [m.name for m in available()]

    second = optiview("migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stderr
    assert "applied" not in second.stderr


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = os.path.join(sys.prefix, "bin", "optiview")
    result = subprocess.run(
        [script, "--version"],
        env=service_env(tmp_path / "o.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"optiview {__version__}"


# --- a database the command cannot use ---------------------------------------------------------


def cannot_use(location: str, *args: str) -> str:
    """Run a command on a database it cannot use; return what it said (exit 1, no traceback)."""
    result = fails(*args, env=service_env(location))
    assert "Traceback" not in result.stderr, result.stderr
    assert "optiview: error: cannot use the database " in result.stderr, result.stderr
    assert "sekrit" not in result.stderr, result.stderr  # the URL's password, masked
    return result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("migrate",),
        ("org", "list"),
        ("key", "revoke", "key_x"),
        ("read-token", "list", "--project", "prj_x"),
    ],
)
def test_an_unreachable_postgresql_server_is_a_clear_error(command: tuple[str, ...]) -> None:
    port = postgres.free_port()  # nothing listens there
    said = cannot_use(f"postgresql://optiview:sekrit@127.0.0.1:{port}/optiview", *command)
    assert f"postgresql://optiview:***@127.0.0.1:{port}/optiview" in said
    assert "Connection refused" in said


def test_a_missing_postgresql_database_is_a_clear_error(postgres_server: str) -> None:
    name = postgres.database_name("never_created")
    said = cannot_use(f"{postgres_server}/{name}", "org", "list")
    assert f'database "{name}" does not exist' in said
