"""PostgreSQL migrations: twins of the SQLite files, applied once across concurrent nodes.

Every test that migrates gets a fresh database of its own on the test PostgreSQL server.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest.storage import migrations, pg_migrations
from ingest.storage.migrations import Migration, MigrationError
from tests import postgres
from tests.migrations.test_d1_rules import violations

SQLITE_DIR = Path(__file__).resolve().parents[2] / "migrations"
POSTGRES_DIR = SQLITE_DIR / "postgres"


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() == ".sql")


@pytest.fixture
def fresh_db(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    with postgres.fresh_database(postgres_server, request.node.name) as url:
        yield url


def recorded(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]


def table_exists(url: str, table: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        return bool(row and row[0])


# --- twins ---------------------------------------------------------------------------------


def test_every_sqlite_migration_has_a_postgres_twin_and_vice_versa() -> None:
    assert names(SQLITE_DIR)
    problems = pg_migrations.unmatched(names(SQLITE_DIR), names(POSTGRES_DIR))
    assert not problems, "\n".join(problems)


def test_the_twin_check_names_what_is_missing_on_either_side() -> None:
    assert pg_migrations.unmatched(["0001_a.sql", "0002_b.sql"], ["0001_a.sql", "0003_c.sql"]) == [
        "0002_b.sql: no migrations/postgres/0002_b.sql",
        "postgres/0003_c.sql: no migrations/0003_c.sql",
    ]


def test_the_service_finds_the_twins_as_package_data() -> None:
    assert [m.name for m in pg_migrations.available()] == [m.name for m in migrations.available()]


@pytest.mark.parametrize("name", names(POSTGRES_DIR))
def test_no_transaction_control_in_a_postgres_migration(name: str) -> None:
    """The runner wraps each file in its transaction: a COMMIT inside would split it."""
    assert violations((POSTGRES_DIR / name).read_text(encoding="utf-8")) == []


# --- applying ------------------------------------------------------------------------------


def test_migrates_a_fresh_database_and_a_rerun_applies_nothing(fresh_db: str) -> None:
    expected = names(POSTGRES_DIR)
    assert pg_migrations.migrate_database(fresh_db) == expected
    assert recorded(fresh_db) == expected
    assert pg_migrations.migrate_database(fresh_db) == []
    assert recorded(fresh_db) == expected
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT * FROM stats_folded").fetchall() == [(1, 0, 0)]


@pytest.mark.parametrize("nodes", [2, 4])
def test_concurrent_migrators_apply_each_migration_once(fresh_db: str, nodes: int) -> None:
    start = threading.Barrier(nodes)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def node() -> None:
        try:
            with psycopg.connect(fresh_db, autocommit=True) as conn:
                start.wait(timeout=10)
                results.append(pg_migrations.apply_pending(conn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=node) for _ in range(nodes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    applied = [name for result in results for name in result]
    assert sorted(applied) == names(POSTGRES_DIR)  # each by exactly one node
    assert recorded(fresh_db) == names(POSTGRES_DIR)


def test_a_failing_migration_rolls_back_and_leaves_no_row(fresh_db: str) -> None:
    good = Migration("0001_good.sql", "CREATE TABLE kept (x TEXT);")
    bad = Migration(
        "0002_bad.sql",
        "CREATE TABLE half (x TEXT); INSERT INTO half VALUES ('a');"
        " INSERT INTO missing VALUES (1);",
    )
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        with pytest.raises(MigrationError, match=r"0002_bad\.sql failed: .*missing"):
            pg_migrations.apply_pending(conn, [good, bad])
        assert not conn.info.transaction_status  # idle: nothing left open
    assert recorded(fresh_db) == ["0001_good.sql"]
    assert table_exists(fresh_db, "kept")
    assert not table_exists(fresh_db, "half")
    fixed = Migration(bad.name, "CREATE TABLE half (x TEXT);")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        assert pg_migrations.apply_pending(conn, [good, fixed]) == ["0002_bad.sql"]


def test_percent_signs_in_a_migration_are_sql_not_placeholders(fresh_db: str) -> None:
    migration = Migration("0001_modulo.sql", "CREATE TABLE m AS SELECT 7 % 3 AS r, '%s' AS s;")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        pg_migrations.apply_pending(conn, [migration])
        assert conn.execute("SELECT r, s FROM m").fetchall() == [(1, "%s")]


def test_refuses_a_connection_inside_a_transaction(fresh_db: str) -> None:
    with (
        psycopg.connect(fresh_db) as conn,
        pytest.raises(MigrationError, match="autocommit"),
    ):
        pg_migrations.apply_pending(conn)


# --- backfills: the translated statements do what SQLite's do ------------------------------

EVENT_COLUMNS = (
    "property_id, project_id, key_id, type, name, url, path, referrer_host, ai_source,"
    " ua_class, crawler, country, session_id, ts, received_at"
)


def event(property_id: int, type_: str, ua_class: str, ts: int, **rest: Any) -> tuple[Any, ...]:
    values = {"project_id": "p", "key_id": "k", "received_at": ts + 100, **rest}
    values |= {"property_id": property_id, "type": type_, "ua_class": ua_class, "ts": ts}
    return tuple(values.get(c.strip()) for c in EVENT_COLUMNS.split(","))


T = 1_750_000_000_000
Y = {"url": "https://a.com/y", "path": "/y", "ai_source": "perplexity", "session_id": "s2"}
EVENTS = [
    event(
        1,
        "pageview",
        "human",
        T,
        url="https://a.com/x",
        path="/x",
        session_id="s1",
        referrer_host="chatgpt.com",
        ai_source="chatgpt",
        country="DE",
    ),
    # Same property, ms, source, url and session as the next: the bot's class must win.
    event(1, "pageview", "human", T + 1000, **Y),
    event(1, "pageview", "bot", T + 1000, crawler="x", **Y),
    event(1, "conversion", "human", T + 900_000, name="signup", country="FR"),
    event(
        2,
        "click",
        "ai_crawler",
        T + 3_600_000,
        project_id="q",
        key_id="k2",
        name="cta",
        url="https://b.com/",
        path="/",
        crawler="GPTBot",
    ),
]
REFERRAL_COLUMNS = "property_id, project_id, session_id, ai_source, via, url, path, landed_at"
REFERRALS = [
    (1, "p", "s1", "chatgpt", "referrer", "https://a.com/x", "/x", T + 100),
    (1, "p", "s2", "perplexity", "utm_source", "https://a.com/y", "/y", T + 1100),
    (1, "p", None, "gemini", "referrer", None, "/z", T + 3000),  # its pageview is gone
]
BACKFILLED = [
    "SELECT * FROM stats_quarters ORDER BY 1, 2, 3",
    "SELECT * FROM stats_hours ORDER BY 1, 2, 3, 4, 5",
    "SELECT id, ua_class FROM ai_referrals ORDER BY id",
    "SELECT * FROM stats_folded",
]


def insert(table: str, columns: str, rows: list[tuple[Any, ...]], mark: str) -> str:
    marks = ", ".join([mark] * len(rows[0]))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"


def test_backfills_give_the_same_rows_on_both_engines(fresh_db: str, tmp_path: Path) -> None:
    sqlite_all, postgres_all = migrations.available(), pg_migrations.available()
    before = sum(1 for m in sqlite_all if m.name < "0005")

    lite = sqlite3.connect(tmp_path / "backfill.db", isolation_level=None)
    migrations.apply_pending(lite, sqlite_all[:before])
    lite.executemany(insert("events", EVENT_COLUMNS, EVENTS, "?"), EVENTS)
    lite.executemany(insert("ai_referrals", REFERRAL_COLUMNS, REFERRALS, "?"), REFERRALS)
    migrations.apply_pending(lite, sqlite_all)
    expected = [[tuple(r) for r in lite.execute(q)] for q in BACKFILLED]
    lite.close()

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        pg_migrations.apply_pending(conn, postgres_all[:before])
        with conn.cursor() as cur:
            cur.executemany(insert("events", EVENT_COLUMNS, EVENTS, "%s"), EVENTS)
            cur.executemany(insert("ai_referrals", REFERRAL_COLUMNS, REFERRALS, "%s"), REFERRALS)
        pg_migrations.apply_pending(conn, postgres_all)
        found = [conn.execute(q.encode()).fetchall() for q in BACKFILLED]

    assert expected[2] == [(1, "human"), (2, "bot"), (3, None)]  # the data exercise the rules
    assert len(expected[1]) > 20
    assert found == expected
