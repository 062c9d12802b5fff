"""The CLI's update and delete commands, run as an operator would, and the purge applying a
changed plan; on both backends, one database per module (each test has domains of its own)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ingest.clock import now_ms
from ingest.storage.sql import Location
from tests import dbprobe
from tests.conftest import optiview, service_env

DAY_MS = 86_400_000


def ok(*args: str, env: dict[str, str]) -> Any:
    result = optiview(*args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def env(db_location: Location) -> dict[str, str]:
    env = service_env(db_location)
    assert optiview("migrate", env=env).returncode == 0
    return env


def unique_domain() -> str:
    return f"acme-{uuid.uuid4().hex[:10]}.com"


def partner(
    env: dict[str, str], domain: str, plan: str = "starter", with_key: bool = True
) -> tuple[str, str, int]:
    org = ok("org", "create", "--name", "Acme", "--domain", domain, "--plan", plan, env=env)
    project = ok(
        "project", "create", "--org", org["id"], "--name", "Main", "--domain", domain, env=env
    )
    if with_key:
        prop = str(project["default_property_id"])
        ok("key", "create", "--property", prop, "--name", "Web", env=env)
    return org["id"], project["id"], project["default_property_id"]


def add_events(db: Location, property_id: int, project_id: str, ages_days: list[int]) -> None:
    now = now_ms()
    for age in ages_days:
        dbprobe.execute(
            db,
            "INSERT INTO events (property_id, project_id, key_id, type, ua_class, ts, received_at)"
            " VALUES (?, ?, 'key_seed', 'pageview', 'human', ?, ?)",
            (property_id, project_id, now - age * DAY_MS, now - age * DAY_MS),
        )


def event_ages(db: Location, property_id: int) -> list[int]:
    now = now_ms()
    rows = dbprobe.rows(
        db,
        "SELECT received_at FROM events WHERE property_id = ? ORDER BY received_at DESC",
        (property_id,),
    )
    return [round((now - received_at) / DAY_MS) for (received_at,) in rows]


@pytest.mark.parametrize(
    ("before", "after", "kept"),
    [("starter", "pro", [100, 200]), ("pro", "starter", [30])],
)
def test_the_next_purge_applies_a_changed_plan(
    env: dict[str, str], before: str, after: str, kept: list[int]
):
    db = env["OPTIVIEW_DB"]
    # no key: the events are written directly, and a CLI run fewer per case
    org_id, project_id, prop = partner(env, unique_domain(), before, with_key=False)
    add_events(db, prop, project_id, [30, 100, 200, 400])
    changed = ok("org", "update", org_id, "--plan", after, env=env)
    assert changed["plan"] == after
    assert ok("org", "show", org_id, env=env)["plan"] == after
    assert optiview("purge", "run", env=env).returncode == 0
    expected = [30, *kept] if after == "pro" else kept
    assert event_ages(db, prop) == expected


def test_update_commands(env: dict[str, str]):
    org_id, project_id, prop = partner(env, unique_domain())
    org = ok("org", "update", org_id, "--name", "Acme Corp", env=env)
    assert (org["name"], org["plan"], org["warnings"]) == ("Acme Corp", "starter", [])
    project = ok("project", "update", project_id, "--description", "the shop", env=env)
    assert project["description"] == "the shop"
    assert ok("property", "update", str(prop), "--deactivate", env=env)["active"] is False
    assert ok("property", "show", str(prop), env=env)["active"] is False
    assert ok("property", "update", str(prop), "--activate", env=env)["active"] is True

    for args, code, fragment in (
        (("org", "update", org_id), 1, "give at least one of"),
        (("org", "update", org_id, "--plan", "gold"), 2, "'gold'"),
        (("org", "update", "org_nope", "--name", "x"), 1, "organization org_nope does not exist"),
        (("property", "update", "999999", "--activate"), 1, "property 999999 does not exist"),
    ):
        result = optiview(*args, env=env)
        assert result.returncode == code, (args, result.stderr)
        assert fragment in result.stderr, result.stderr
    both = optiview("property", "update", str(prop), "--activate", "--deactivate", env=env)
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_a_second_org_on_a_domain_is_warned_on_stderr(env: dict[str, str]):
    domain = unique_domain()
    first, _, _ = partner(env, domain)
    result = optiview("org", "create", "--name", "Acme 2", "--domain", domain, "--plan",
                      "pro", env=env)  # fmt: skip
    assert result.returncode == 0
    warning = f"organization {first} (Acme) already claims domain {domain}"
    assert f"optiview: warning: {warning}" in result.stderr
    assert json.loads(result.stdout)["warnings"] == [warning]


def test_delete_needs_yes_and_removes_only_that_partner(env: dict[str, str]):
    db = env["OPTIVIEW_DB"]
    org_id, project_id, prop = partner(env, unique_domain())
    _, other_project, other_prop = partner(env, unique_domain())
    add_events(db, prop, project_id, [1, 2, 3])
    add_events(db, other_prop, other_project, [1, 2])

    dry = optiview("org", "delete", org_id, env=env)
    assert dry.returncode == 1
    assert "confirmation_required" in dry.stderr and "add --yes" in dry.stderr
    assert "events 3" in dry.stderr and "orgs 1" in dry.stderr
    assert ok("org", "show", org_id, env=env)["id"] == org_id

    done = ok("org", "delete", org_id, "--yes", env=env)
    assert done["rows"] == {
        "events": 3, "sessions": 0, "content": 0, "ai_referrals": 0, "api_keys": 1,
        "project_ai_sources": 4, "read_tokens": 0, "properties": 1, "projects": 1,
        "purge_log": 0, "orgs": 1,
    }  # fmt: skip
    assert done["total"] == 11
    assert optiview("org", "show", org_id, env=env).returncode == 1
    assert len(event_ages(db, other_prop)) == 2

    gone = ok("property", "delete", str(other_prop), "--yes", env=env)
    assert gone["rows"]["events"] == 2 and gone["rows"]["properties"] == 1
    assert ok("project", "delete", other_project, "--yes", env=env)["rows"]["projects"] == 1
