"""Rows for the purge tests, inserted straight into a migrated database (either backend)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.storage.migrations import migrate_database
from ingest.storage.sql import Conn, Location, connect, returning_id
from tests.ingest.cron import job_databases

DAY_MS = 86_400_000


@dataclass(frozen=True)
class SeededOrg:
    id: str
    plan: str
    project_id: str
    property_ids: tuple[int, ...]


def new_db(folder: Path, name: str = "optiview.db") -> Path:
    path = folder / name
    migrate_database(path)
    return path


def open_db(location: Location) -> Conn:
    return connect(location, create=False)


def add_org(conn: Conn, org_id: str, plan: str, properties: int = 2) -> SeededOrg:
    domain = f"{org_id.replace('_', '-')}.com"
    conn.execute(
        "INSERT INTO orgs (id, name, domain, plan, created_at) VALUES (?, ?, ?, ?, 0)",
        (org_id, org_id.title(), domain, plan),
    )
    project_id = f"prj_{org_id}"
    conn.execute(
        "INSERT INTO projects (id, org_id, name, domain, description, created_at)"
        " VALUES (?, ?, 'Main', ?, NULL, 0)",
        (project_id, org_id, domain),
    )
    ids = []
    for i in range(properties):
        ids.append(
            returning_id(
                conn,
                "INSERT INTO properties (project_id, domain, type, active, is_default,"
                " created_at) VALUES (?, ?, 'website', 1, ?, 0)",
                (project_id, f"www{i}.{domain}", int(i == 0)),
            )
        )
    return SeededOrg(org_id, plan, project_id, tuple(ids))


def add_events(conn: Conn, org: SeededOrg, prop: int, times: list[int] | range) -> None:
    conn.executemany(
        "INSERT INTO events (property_id, project_id, key_id, type, ua_class, ts, received_at)"
        " VALUES (?, ?, 'key_test', 'pageview', 'human', ?, ?)",
        [(prop, org.project_id, t, t) for t in times],
    )


def add_session(conn: Conn, org: SeededOrg, prop: int, at: int, sid: str) -> None:
    conn.execute(
        "INSERT INTO sessions (property_id, id, project_id, ua_class, started_at, last_seen_at)"
        " VALUES (?, ?, ?, 'human', ?, ?)",
        (prop, sid, org.project_id, at, at),
    )


def add_ai_referral(conn: Conn, org: SeededOrg, prop: int, at: int) -> None:
    conn.execute(
        "INSERT INTO ai_referrals (property_id, project_id, ai_source, via, landed_at)"
        " VALUES (?, ?, 'chatgpt', 'referrer', ?)",
        (prop, org.project_id, at),
    )


def add_content(conn: Conn, org: SeededOrg, prop: int, at: int, path: str) -> None:
    conn.execute(
        "INSERT INTO content (property_id, path, project_id, content_type, first_seen_at,"
        " last_seen_at) VALUES (?, ?, ?, 'page', ?, ?)",
        (prop, path, org.project_id, at, at),
    )


def add_rollup(conn: Conn, minute: int) -> None:
    conn.execute("INSERT INTO request_rollups (minute, requests) VALUES (?, 1)", (minute,))


def add_purge_log(conn: Conn, logged_at: int) -> None:
    conn.execute(
        "INSERT INTO purge_log (run_id, table_name, org_id, plan, cutoff, rows_deleted,"
        " duration_ms, logged_at) VALUES (0, 'seed', NULL, NULL, 0, 0, 0, ?)",
        (logged_at,),
    )


def add_cron_run(conn: Conn, started_at: int, job: str = "alerts") -> None:
    conn.execute(
        "INSERT INTO cron_runs (job, started_at, finished_at, status, holder)"
        " VALUES (?, ?, ?, 'ok', 'seed:1')",
        (job, started_at, started_at),
    )


def dump(conn: Conn) -> str:
    return job_databases.dump(conn)
