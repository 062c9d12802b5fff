"""`optiview db copy`: a SQLite database written by the service itself, copied into real
PostgreSQL databases by the real command."""

from __future__ import annotations

import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from psycopg import sql

from ingest.cron.bookkeeping import acquire
from ingest.storage.connection import connect
from ingest.storage.copy.progress import LineProgress
from ingest.storage.pg_migrations import migrate_database
from tests import postgres
from tests.conftest import ADMIN_TOKEN, free_port, optiview, service_env, start_server
from tests.ingest.collect.conftest import CHROME, GPTBOT


def schema_tables(db: Path) -> list[str]:
    """Every table the SQLite migrations made, but the migrations' own bookkeeping."""
    with sqlite3.connect(db) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name != 'd1_migrations' ORDER BY name"
            )
        ]


def sqlite_rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        return conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid").fetchall()


def pg_rows(url: str, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
            )
        ).fetchall()


def pg_count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        return int(row.fetchone()[0])  # type: ignore[index]


def copy(db: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return optiview("db", "copy", "--from", str(db), "--to", url, *args, env=service_env(db))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database the service wrote: provisioning over the admin API, events over the
    collector, then a purge run and two alerts runs."""
    db = tmp_path_factory.mktemp("copy") / "optiview.db"
    server = start_server(db)
    try:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=server.url + "/api/admin", headers=headers) as admin:
            domain = f"shop-{uuid.uuid4().hex[:8]}.com"
            org = admin.post("/orgs", json={"name": "Shop", "domain": domain, "plan": "pro"})
            project = admin.post(
                f"/orgs/{org.json()['id']}/projects", json={"name": "Main", "domain": domain}
            ).json()
            prop = project["default_property_id"]
            admin.post(f"/projects/{project['id']}/properties", json={"domain": "app." + domain})
            key = admin.post(f"/properties/{prop}/keys", json={"name": "Website"}).json()
            admin.put(f"/projects/{project['id']}/sources", json={"enabled": ["chatgpt"]})
            admin.post(f"/projects/{project['id']}/read-tokens", json={"name": "Partner"})
        for n in range(30):
            events = [
                {
                    "type": "pageview",
                    "url": f"https://{domain}/page/{n % 7}?utm_source=chatgpt.com",
                    "title": f"Page {n % 7} \u00e9t\u00e9",
                    "session_id": f"s{n % 5}",
                },
                {"type": "custom", "name": "signup", "url": f"https://{domain}/"},
            ]
            body = {"key_id": key["id"], "project_id": project["id"], "property_id": prop}
            sent = httpx.post(
                server.url + "/v1/events",
                content=orjson.dumps({**body, "events": events}),
                headers={
                    "Content-Type": "text/plain",
                    "Origin": f"https://{domain}",
                    "User-Agent": GPTBOT if n % 6 == 0 else CHROME,
                },
            )
            assert sent.status_code == 202, sent.text
    finally:
        server.stop()
    env = service_env(db)
    # Two hours on, the purge has not succeeded for 90 minutes: an alert fires, unsent.
    later = datetime.fromtimestamp(time.time() + 7200, UTC).isoformat()
    for job in (["purge", "run"], ["alerts", "run"], ["alerts", "run", "--now", later]):
        done = optiview(*job, env=env)
        assert done.returncode == 0, done.stderr
    # A lease held at the time of the copy (a run going on), taken by the cron's own code.
    conn = connect(db)
    try:
        assert acquire(conn, "alerts", "copy-test:1", int(time.time() * 1000)) is None
    finally:
        conn.close()
    return db


@pytest.fixture(scope="module")
def copied(source: Path, postgres_db: str) -> subprocess.CompletedProcess[str]:
    done = copy(source, postgres_db, "--batch", "7")
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def empty_db(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    with postgres.fresh_database(postgres_server, request.node.name) as url:
        yield url


# Only PostgreSQL commits append rollup deltas; on SQLite these tables exist (the schemas stay
# equal) and are always empty (migrations/0012_stats_pending.sql).
STAYS_EMPTY_ON_SQLITE = frozenset({"stats_quarters_pending", "stats_hours_pending"})


def test_the_source_fills_every_table(source: Path) -> None:
    # A forgotten table is only seen when it holds rows: the fixture must fill them.
    tables = [t for t in schema_tables(source) if t not in STAYS_EMPTY_ON_SQLITE]
    assert set(STAYS_EMPTY_ON_SQLITE) <= set(schema_tables(source))
    empty = [table for table in tables if not sqlite_rows(source, table)]
    assert empty == []


def test_every_table_is_copied_row_for_row(
    source: Path, postgres_db: str, copied: subprocess.CompletedProcess[str]
) -> None:
    tables = schema_tables(source)
    for table in tables:
        with sqlite3.connect(source) as conn:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        expected = sqlite_rows(source, table)
        found = pg_rows(postgres_db, table, columns)
        assert len(found) == len(expected), table
        # Column by column, types and all: ints stay ints (0/1 flags too), floats, text, NULL.
        assert sorted(found, key=repr) == sorted(expected, key=repr), table
    for table in tables:
        assert re.search(rf"^{table}\s+\d+ rows", copied.stdout, re.MULTILINE), table


def test_identity_columns_continue_after_the_copied_ids(
    source: Path, postgres_db: str, copied: subprocess.CompletedProcess[str]
) -> None:
    with sqlite3.connect(source) as conn:
        last_event = conn.execute("SELECT max(id) FROM events").fetchone()[0]
        last_property = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'properties'")
        property_floor = last_property.fetchone()[0]
    with psycopg.connect(postgres_db) as conn:
        event = conn.execute(
            "INSERT INTO events (property_id, project_id, key_id, type, ua_class, ts,"
            " received_at) VALUES (1, 'p', 'k', 'click', 'human', 1, 1) RETURNING id"
        ).fetchone()
        project = conn.execute("SELECT id FROM projects LIMIT 1").fetchone()
        prop = conn.execute(
            "INSERT INTO properties (project_id, domain, type, created_at)"
            " VALUES (%s, 'new.example', 'website', 1) RETURNING id",
            project,
        ).fetchone()
        alert = conn.execute(
            "INSERT INTO alerts (rule, subject, kind, message, payload, created_at, delivery)"
            " VALUES ('r', 's', 'test', 'm', '{}', 1, 'pending') RETURNING id"
        ).fetchone()
        conn.rollback()
    assert event == (last_event + 1,)
    assert prop == (property_floor + 1,)
    assert alert is not None and alert[0] == 1 + len(sqlite_rows(source, "alerts"))


def test_progress_and_snapshot_are_said_on_stderr(
    source: Path, copied: subprocess.CompletedProcess[str]
) -> None:
    last = sqlite_rows(source, "events")[-1]
    assert f"last event, id {last[0]} received" in copied.stderr
    assert "events written after that are not copied" in copied.stderr
    # Not a terminal: plain lines, one per table at least.
    for table in schema_tables(source):
        rows = len(sqlite_rows(source, table))
        assert f"copy: {table} {rows}/{rows} rows, done in" in copied.stderr, table
    assert re.search(r"^copied \d+ rows from \d+ tables in [\d.]+ s", copied.stdout, re.MULTILINE)


def test_a_second_copy_into_the_filled_target_is_refused(
    source: Path, postgres_db: str, copied: subprocess.CompletedProcess[str]
) -> None:
    before = {table: pg_count(postgres_db, table) for table in schema_tables(source)}
    again = copy(source, postgres_db)
    assert again.returncode == 1
    assert re.search(r"the target is not empty: table \w+ holds \d+ row", again.stderr)
    assert {table: pg_count(postgres_db, table) for table in schema_tables(source)} == before


def test_a_target_with_one_row_is_refused_and_left_alone(source: Path, empty_db: str) -> None:
    migrate_database(empty_db)
    with psycopg.connect(empty_db) as conn:
        conn.execute(
            "INSERT INTO cron_leases (job, holder, expires_at) VALUES ('purge', 'elsewhere', 1)"
        )
    refused = copy(source, empty_db)
    assert refused.returncode == 1
    assert "table cron_leases holds 1 row(s)" in refused.stderr
    assert "freshly created database" in refused.stderr
    assert pg_count(empty_db, "events") == 0
    assert pg_count(empty_db, "orgs") == 0
    assert pg_count(empty_db, "cron_leases") == 1


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        # A fraction in an INTEGER column: PostgreSQL's bigint refuses it.
        ("UPDATE events SET ts = 1.5 WHERE id = (SELECT max(id) FROM events)", "events"),
        # A BLOB in a TEXT column: nothing of ours holds bytes.
        ("UPDATE read_tokens SET name = X'00ff'", "read_tokens"),
    ],
)
def test_a_row_the_target_refuses_fails_the_whole_copy(
    source: Path, empty_db: str, tmp_path: Path, statement: str, named: str
) -> None:
    broken = tmp_path / "broken.db"
    shutil.copy(source, broken)
    with sqlite3.connect(broken) as conn:
        conn.execute(statement)
    failed = copy(broken, empty_db)
    assert failed.returncode == 1
    assert f"the copy failed while copying table {named}, nothing was written" in failed.stderr
    # Tables copied before the failing one were rolled back with it.
    for table in schema_tables(source):
        expected = 1 if table == "stats_folded" else 0  # the row the migrations insert
        assert pg_count(empty_db, table) == expected, table


def test_an_unreachable_target_exits_1(source: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    done = copy(source, url)
    assert done.returncode == 1
    assert f"optiview: error: cannot connect to {url}" in done.stderr
    assert done.stdout == ""


def test_a_password_is_not_shown(source: Path) -> None:
    url = f"postgresql://postgres:hunter2secret@127.0.0.1:{free_port()}/nothing"
    done = copy(source, url)
    assert done.returncode == 1
    assert "hunter2secret" not in done.stderr
    assert "postgres:***@127.0.0.1" in done.stderr


def test_a_missing_source_exits_1_and_is_not_created(tmp_path: Path, empty_db: str) -> None:
    missing = tmp_path / "missing.db"
    done = copy(missing, empty_db)
    assert done.returncode == 1
    assert f"no SQLite database at {missing}" in done.stderr
    assert not missing.exists()


def test_the_source_defaults_to_optiview_db(source: Path, empty_db: str) -> None:
    done = optiview("db", "copy", "--to", empty_db, env=service_env(source))
    assert done.returncode == 0, done.stderr
    assert pg_count(empty_db, "events") == len(sqlite_rows(source, "events"))


def test_a_source_with_pending_migrations_is_refused(tmp_path: Path, empty_db: str) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO d1_migrations (name) VALUES ('0001_provisioning.sql')")
    done = copy(old, empty_db)
    assert done.returncode == 1
    assert "pending migrations (0002_collector.sql" in done.stderr
    assert "optiview migrate" in done.stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--to", "mysql://root@host/db"], "argument --to"),
        (["--to", "postgresql://u@h/db", "--batch", "0"], "argument --batch"),
        ([], "--to"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], complaint: str) -> None:
    done = optiview("db", "copy", *args, env=service_env(tmp_path / "o.db"))
    assert done.returncode == 2
    assert complaint in done.stderr
    assert not (tmp_path / "o.db").exists()


def test_plain_progress_lines_come_every_interval() -> None:
    lines: list[str] = []
    now = [0.0]
    progress = LineProgress(lines.append, interval=2.0, clock=lambda: now[0])
    progress.start("events", 1000)
    for _ in range(10):
        now[0] += 0.5
        progress.advance(100)
    progress.done()
    assert lines == [
        "copy: events 400/1000 rows (40%)",
        "copy: events 800/1000 rows (80%)",
        "copy: events 1000/1000 rows, done in 5.0 s",
    ]


def test_ctrl_c_rolls_the_whole_copy_back(source: Path, empty_db: str, tmp_path: Path) -> None:
    big = tmp_path / "big.db"
    shutil.copyfile(source, big)
    with sqlite3.connect(big) as conn:  # about 4,000 events
        columns = [row[1] for row in conn.execute("PRAGMA table_info(events)") if row[1] != "id"]
        listed = ", ".join(columns)
        while conn.execute("SELECT count(*) FROM events").fetchone()[0] < 3_000:
            conn.execute(f"INSERT INTO events ({listed}) SELECT {listed} FROM events")
    # Interrupted once the first table is done, the copy has rows of its own in the
    # transaction. The events are still to come however late the signal arrives on a busy
    # machine: the target takes 5 ms over each of them (a slow server), twenty seconds in all.
    migrate_database(empty_db)  # migrated and empty: a target the copy accepts
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(0.005); RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER slow_events AFTER INSERT ON events"
            " FOR EACH ROW EXECUTE FUNCTION slow_down()"
        )
    command = [sys.executable, "-m", "ingest", "db", "copy", "--from", str(big), "--to", empty_db,
               "--batch", "500"]  # fmt: skip
    with subprocess.Popen(
        command, env=service_env(big), stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        line = ""
        for line in process.stderr:  # optiview: copy: alerts 1/1 rows, done in 0.0 s
            if line.startswith("optiview: copy: ") and " done in " in line:
                break
        done = line.split()[2]
        assert done < "events" and int(line.split()[3].split("/")[0]) > 0, line
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 130, rest
    assert "interrupted: nothing was copied" in rest
    assert "Traceback" not in rest
    assert pg_count(empty_db, "events") == 0 and pg_count(empty_db, "orgs") == 0
    assert pg_count(empty_db, done) == 0  # copied whole before the signal, and rolled back


def test_rows_sqlite_had_not_folded_are_in_the_copied_rollups(
    source: Path, empty_db: str, tmp_path: Path
) -> None:
    """PostgreSQL folds nothing later (each commit counts its own rows): the copy itself adds
    the rows past SQLite's watermark to the read API's rollups."""
    unfolded = tmp_path / "unfolded.db"
    shutil.copyfile(source, unfolded)
    with sqlite3.connect(unfolded) as conn:  # rows written after the last fold
        columns = [row[1] for row in conn.execute("PRAGMA table_info(events)") if row[1] != "id"]
        listed = ", ".join(columns)
        conn.execute(f"INSERT INTO events ({listed}) SELECT {listed} FROM events")
        total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        folded = conn.execute("SELECT sum(events) FROM stats_quarters").fetchone()[0]
    assert folded < total
    done = copy(unfolded, empty_db)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(empty_db) as conn:
        row = conn.execute(
            "SELECT (SELECT sum(events) FROM stats_quarters),"
            " (SELECT sum(events) FROM stats_hours WHERE dimension = 'path'),"
            " (SELECT count(*) FROM events)"
        ).fetchone()
    assert row is not None
    assert (int(row[0]), int(row[1]), int(row[2])) == (total, total, total)
