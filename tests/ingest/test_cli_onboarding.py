"""The onboarding traps of the `optiview` CLI, each as an operator hit it: a database that
depends on the current folder, a subdomain replaced by its apex, `sources set` with no
names, `verify` that could not fail or wait, and ids that could not be captured by a shell."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.cli import build_parser
from ingest.config import DEV_SECRETS_FILE
from ingest.storage.sql import Location, redacted
from tests.conftest import Server, optiview, service_env, start_server

NOT_VERIFIED = 3


def ok(*args: str, env: dict[str, str]) -> Any:
    result = optiview(*args, env=env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def run_in(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command run from `folder`, as an operator in another shell would."""
    return subprocess.run(
        [sys.executable, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )


def bare_env(**extra: str) -> dict[str, str]:
    """No OPTIVIEW_DB and no secrets: the defaults of a fresh shell, in development."""
    env = {k: v for k, v in service_env(Path("unused")).items()}
    for name in ("OPTIVIEW_DB", "OPTIVIEW_ADMIN_TOKEN", "KEY_HASH_SECRET"):
        env.pop(name)
    env["PYTHONPATH"] = os.getcwd()
    env.update(extra)
    return env


# --- 5. the database is named, and never created by a command that only uses it -------------
# A missing file, a folder, --create-db: these are about SQLite files and run on SQLite only
# (a PostgreSQL database is created by its server's administrator; test_cli.py tests a
# missing one).


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "ingest", "org", "list"],
        ["-m", "ingest", "org", "create", "--name", "Acme", "--domain", "acme.com", "--plan",
         "growth"],
        ["-m", "ingest", "onboarding-status", "--project", "prj_x"],
        ["-m", "ingest", "purge", "run"],
        ["-m", "ingest", "alerts", "run", "--dry-run"],
        ["-m", "purge", "--dry-run"],
        ["-m", "alerts", "run"],
    ],
)  # fmt: skip
def test_from_another_folder_a_command_refuses_to_create_a_database(
    tmp_path: Path, args: list[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_in(elsewhere, *args, env=bare_env())

    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    expected = elsewhere / "data" / "optiview.db"
    # Which database, where, and how to point at the right one.
    assert f"database {expected} (OPTIVIEW_DB is not set" in result.stderr
    assert f"database file {expected} does not exist: check OPTIVIEW_DB" in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was made: no database, no folder for it, no development secrets.
    assert list(elsewhere.iterdir()) == []


def test_create_db_is_the_explicit_way_and_the_server_then_shares_the_file(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fresh" / "o.db"
    env = service_env(db)
    refused = optiview("org", "create", "--name", "A", "--domain", "a.com", "--plan", "pro",
                       env=env)  # fmt: skip
    assert refused.returncode == 1
    assert "pass --create-db to create an empty one" in refused.stderr
    assert not db.exists()

    created = optiview("org", "create", "--name", "A", "--domain", "a.com", "--plan", "pro",
                       "--create-db", env=env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert f"creating a new, empty database at {db}" in created.stderr
    org = json.loads(created.stdout)
    listed = optiview("org", "list", env=env)
    assert f"optiview: database {db} (OPTIVIEW_DB)\n" in listed.stderr
    assert [o["id"] for o in json.loads(listed.stdout)["orgs"]] == [org["id"]]


def test_every_command_names_its_database(db_location: Location) -> None:
    env = service_env(db_location)
    named = f"database {redacted(db_location)} (OPTIVIEW_DB)"
    migrated = optiview("migrate", env=env)
    assert f"optiview: {named}" in migrated.stderr
    for args in (["org", "list"], ["purge", "run", "--dry-run"], ["alerts", "run", "--dry-run"]):
        result = optiview(*args, env=env)
        assert result.returncode == 0, result.stderr
        assert named in result.stderr, args


def test_the_development_secrets_are_not_written_by_a_refused_command(tmp_path: Path) -> None:
    db = tmp_path / "data" / "o.db"
    env = bare_env(OPTIVIEW_DB=str(db))
    result = run_in(tmp_path, "-m", "ingest", "key", "list", "--property", "1", env=env)
    assert result.returncode == 1
    assert not (tmp_path / "data" / DEV_SECRETS_FILE).exists()
    assert not (tmp_path / "data").exists()


# --- the rest of the runbook on one database, on both backends -------------------------------


@dataclass
class Partner:
    db: Location
    env: dict[str, str]
    org: str
    project: dict[str, Any]
    key: str


@pytest.fixture(scope="module")
def partner(db_location: Location) -> Iterator[Partner]:
    db = db_location
    env = service_env(db)
    optiview("migrate", env=env, check=True)
    org = optiview("org", "create", "--name", "Blog Ltd", "--domain", "blog.example.co.uk",
                   "--plan", "growth", "--field", "id", env=env)  # fmt: skip
    assert org.returncode == 0, org.stderr
    created = optiview("project", "create", "--org", org.stdout.strip(), "--name", "Blog",
                       "--domain", "https://blog.example.co.uk/", env=env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    project = json.loads(created.stdout)
    project["stderr"] = created.stderr
    key = ok("key", "create", "--property", str(project["default_property_id"]), "--name", "Web",
             env=env)  # fmt: skip
    yield Partner(db, env, org.stdout.strip(), project, key["id"])


def test_field_prints_one_value_bare_for_a_shell_variable(partner: Partner) -> None:
    assert partner.org.startswith("org_") and "\n" not in partner.org
    prop = optiview("project", "show", partner.project["id"], "--field", "default_property_id",
                    env=partner.env)  # fmt: skip
    assert prop.stdout == f"{partner.project['default_property_id']}\n"
    missing = optiview("org", "show", partner.org, "--field", "nope", env=partner.env)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert "the answer has no 'nope'; it has: id, name, domain" in missing.stderr


def test_key_create_has_no_field_option_so_its_secret_is_never_lost(partner: Partner) -> None:
    result = optiview("key", "create", "--property", "1", "--name", "x", "--field", "id",
                      env=partner.env)  # fmt: skip
    assert result.returncode == 2
    assert "unrecognized arguments: --field" in result.stderr


# --- 4. the subdomain trap -------------------------------------------------------------------


def test_a_subdomain_project_keeps_the_site_host_and_says_so(partner: Partner) -> None:
    project = partner.project
    assert project["domain"] == "example.co.uk"
    assert project["default_property"]["domain"] == "blog.example.co.uk"
    (warning,) = project["warnings"]
    assert "example.co.uk" in warning and "blog.example.co.uk" in warning
    assert f"optiview: warning: {warning}" in project["stderr"]


def test_an_apex_project_has_no_warning(partner: Partner) -> None:
    created = ok("project", "create", "--org", partner.org, "--name", "Shop",
                 "--domain", "www.other-example.com", env=partner.env)  # fmt: skip
    assert created["domain"] == created["default_property"]["domain"] == "other-example.com"
    assert "warnings" not in created


# --- 6. sources set with no names ------------------------------------------------------------


def test_sources_set_without_names_is_refused_and_none_is_explicit(partner: Partner) -> None:
    env, project = partner.env, partner.project["id"]
    before = ok("sources", "show", "--project", project, env=env)["enabled"]
    assert before

    refused = optiview("sources", "set", "--project", project, env=env)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "name the sources to enable" in refused.stderr
    assert "--none to disable every source" in refused.stderr
    assert ok("sources", "show", "--project", project, env=env)["enabled"] == before

    both = optiview("sources", "set", "--project", project, "claude", "--none", env=env)
    assert both.returncode == 1
    assert "not both" in both.stderr
    assert ok("sources", "show", "--project", project, env=env)["enabled"] == before

    assert ok("sources", "set", "--project", project, "--none", env=env)["enabled"] == []
    restored = ok("sources", "set", "--project", project, *before, env=env)
    assert restored["enabled"] == before


# --- 12. the snippet as plain HTML -----------------------------------------------------------


def test_install_html_prints_the_snippet_alone(partner: Partner) -> None:
    args = ("install", "--project", partner.project["id"], "--base-url", "https://edge.example")
    info = ok(*args, env=partner.env)
    html = optiview(*args, "--html", env=partner.env)
    assert html.returncode == 0, html.stderr
    assert html.stdout == info["snippet"] + "\n"
    assert html.stdout.startswith('<script async src="https://edge.example/v1/tag.js"')


# --- 7. verify fails until an event lands, and can wait for it -------------------------------


def test_verify_exits_non_zero_until_verified(partner: Partner) -> None:
    result = optiview("verify", "--project", partner.project["id"], env=partner.env)
    assert result.returncode == NOT_VERIFIED
    assert json.loads(result.stdout)["verified"] is False
    assert "not verified: no event has arrived" in result.stderr
    assert "waiting" not in result.stderr  # without --wait: one look


def test_verify_wait_gives_up_when_the_time_is_up(partner: Partner) -> None:
    started = time.monotonic()
    result = optiview("verify", "--project", partner.project["id"], "--wait", "1.5",
                      env=partner.env)  # fmt: skip
    assert result.returncode == NOT_VERIFIED
    assert time.monotonic() - started >= 1.5
    assert "waiting for the first event" in result.stderr
    assert "in 1.5 s" in result.stderr


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "99999"])
def test_verify_wait_must_be_a_sane_number_of_seconds(partner: Partner, value: str) -> None:
    result = optiview("verify", "--project", "prj_x", "--wait", value, env=partner.env)
    assert result.returncode == 2
    assert "--wait" in result.stderr


@pytest.fixture(scope="module")
def serving_partner(partner: Partner) -> Iterator[Server]:
    running = start_server(partner.db)
    try:
        yield running
    finally:
        running.stop()


def test_verify_wait_returns_when_the_first_event_lands(
    partner: Partner, serving_partner: Server
) -> None:
    project = partner.project
    command = [sys.executable, "-m", "ingest", "verify", "--project", project["id"], "--wait",
               "30"]  # fmt: skip
    waiting = subprocess.Popen(
        command, env=partner.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert waiting.stderr is not None
        lines: list[str] = []
        # Progress first: the command is polling before the event exists.
        reader = threading.Thread(target=lambda: lines.extend(waiting.stderr or []))
        reader.start()
        deadline = time.monotonic() + 15
        while not any("waiting for the first event" in line for line in lines):
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
        sent = httpx.post(
            f"{serving_partner.url}/v1/events",
            json={
                "key_id": partner.key,
                "project_id": project["id"],
                "property_id": project["default_property_id"],
                "events": [{"type": "pageview", "url": "https://blog.example.co.uk/"}],
            },
            headers={"Origin": "https://blog.example.co.uk"},
            timeout=10,
        )
        assert sent.status_code == 202, sent.text
        landed = time.monotonic()
        stdout, _ = waiting.communicate(timeout=20)
        reader.join(timeout=5)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, lines
    assert time.monotonic() - landed < 5  # it noticed within a poll or two, not at --wait's end
    assert json.loads(stdout)["verified"] is True


# --- 12. every argument says what it is for --------------------------------------------------


def undocumented(parser: argparse.ArgumentParser, path: str = "optiview") -> list[str]:
    """Every argument, subcommand and option of `parser` and its subcommands without help."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += undocumented(sub, f"{path} {name}")
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_argument_of_every_command_has_a_help_text() -> None:
    assert undocumented(build_parser()) == []


def test_the_help_walk_sees_an_argument_without_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["verify"].add_argument("--quietly")
    assert undocumented(parser) == ["optiview verify --quietly"]
