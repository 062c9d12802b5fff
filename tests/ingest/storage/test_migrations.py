"""The migration runner: migrations/NNNN_name.sql applied in order and recorded in
`d1_migrations` exactly as `wrangler d1 migrations apply` records them, plus connection pragmas."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.storage.connection import connect
from ingest.storage.migrations import (
    Migration,
    MigrationError,
    applied,
    apply_pending,
    available,
    pending,
    statements,
)

# What wrangler itself runs (workers-sdk, d1/migrations/helpers.ts), written out here so that
# the test does not compare the runner with itself.
WRANGLER_CREATE = """CREATE TABLE IF NOT EXISTS d1_migrations(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);"""
SQLITE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = connect(tmp_path / "o.db")
    yield connection
    connection.close()


def records(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    return list(conn.execute("SELECT id, name, applied_at FROM d1_migrations ORDER BY id"))


def tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


# --- applying and recording --------------------------------------------------------------------


def test_available_is_every_file_in_name_order() -> None:
    folder = Path(__file__).resolve().parents[3] / "migrations"
    on_disk = sorted(p.name for p in folder.glob("*.sql"))
    found = available()
    assert [m.name for m in found] == on_disk
    assert "0001_provisioning.sql" in on_disk
    for migration in found:
        assert migration.sql == (folder / migration.name).read_text(encoding="utf-8")


def test_apply_pending_applies_all_in_order_and_records_them(conn: sqlite3.Connection) -> None:
    expected = [m.name for m in available()]
    assert apply_pending(conn) == expected
    rows = records(conn)
    assert [name for _, name, _ in rows] == expected
    ids = [row_id for row_id, _, _ in rows]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for _, _, applied_at in rows:
        assert SQLITE_TIMESTAMP.match(applied_at), applied_at
    assert {"orgs", "projects", "properties", "api_keys", "project_ai_sources"} <= tables(conn)
    assert conn.in_transaction is False


def test_second_apply_pending_applies_nothing(conn: sqlite3.Connection) -> None:
    apply_pending(conn)
    before = records(conn)
    assert apply_pending(conn) == []
    assert pending(conn) == []
    assert records(conn) == before
    assert applied(conn) == [m.name for m in available()]


def test_d1_migrations_has_exactly_wranglers_columns(conn: sqlite3.Connection) -> None:
    apply_pending(conn)
    columns = [tuple(row) for row in conn.execute("PRAGMA table_info(d1_migrations)")]
    # (cid, name, type, notnull, dflt_value, pk)
    assert columns == [
        (0, "id", "INTEGER", 0, None, 1),
        (1, "name", "TEXT", 0, None, 0),
        (2, "applied_at", "TIMESTAMP", 1, "CURRENT_TIMESTAMP", 0),
    ]
    (sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'd1_migrations'"
    ).fetchone()
    assert re.search(r"\bid\s+INTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", sql, re.IGNORECASE)
    # AUTOINCREMENT tables are tracked in sqlite_sequence.
    (seq,) = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'd1_migrations'").fetchone()
    assert seq == len(available())
    unique = [
        idx for idx in conn.execute("PRAGMA index_list(d1_migrations)") if idx[2] == 1
    ]  # (seq, name, unique, origin, partial)
    assert len(unique) == 1
    assert unique[0][3] == "u"
    assert [c[2] for c in conn.execute(f"PRAGMA index_info({unique[0][1]!r})")] == ["name"]


def test_database_migrated_by_wrangler_is_up_to_date(tmp_path: Path) -> None:
    db = tmp_path / "wrangler.db"
    raw = sqlite3.connect(db, isolation_level=None)
    raw.executescript(WRANGLER_CREATE)
    for migration in available():
        raw.executescript(migration.sql)
        raw.execute("INSERT INTO d1_migrations (name) VALUES (?)", (migration.name,))
    before = list(raw.execute("SELECT id, name, applied_at FROM d1_migrations ORDER BY id"))
    raw.close()
    assert [name for _, name, _ in before] == [m.name for m in available()]
    assert before[0][1] == "0001_provisioning.sql"

    conn = connect(db)
    try:
        assert pending(conn) == []
        assert apply_pending(conn) == []
        assert records(conn) == before
    finally:
        conn.close()


def test_migration_recorded_by_wrangler_is_skipped_and_the_rest_applied(
    conn: sqlite3.Connection,
) -> None:
    conn.executescript(WRANGLER_CREATE)
    conn.execute("CREATE TABLE a (x)")
    conn.execute("INSERT INTO d1_migrations (name) VALUES ('0001_a.sql')")
    candidates = [
        Migration("0001_a.sql", "CREATE TABLE a (x);"),  # would fail if run again
        Migration("0002_b.sql", "CREATE TABLE b (x);"),
    ]
    assert [m.name for m in pending(conn, candidates)] == ["0002_b.sql"]
    assert apply_pending(conn, candidates) == ["0002_b.sql"]
    assert [name for _, name, _ in records(conn)] == ["0001_a.sql", "0002_b.sql"]
    assert {"a", "b"} <= tables(conn)


# --- failures ----------------------------------------------------------------------------------


def test_failing_migration_is_rolled_back_whole(conn: sqlite3.Connection) -> None:
    candidates = [
        Migration("0001_ok.sql", "CREATE TABLE a (x);"),
        Migration("0002_bad.sql", "CREATE TABLE b (x); INSERT INTO nope VALUES (1);"),
    ]
    with pytest.raises(MigrationError) as caught:
        apply_pending(conn, candidates)
    assert "0002_bad.sql" in str(caught.value)
    assert "nope" in str(caught.value)
    assert "a" in tables(conn)
    assert "b" not in tables(conn)
    assert [name for _, name, _ in records(conn)] == ["0001_ok.sql"]
    assert conn.in_transaction is False
    # Fixed, the migration applies on the next run.
    fixed = [candidates[0], Migration("0002_bad.sql", "CREATE TABLE b (x);")]
    assert apply_pending(conn, fixed) == ["0002_bad.sql"]
    assert "b" in tables(conn)


UNTERMINATED = [
    Migration("0001_ok.sql", "CREATE TABLE a (x);"),
    Migration("0002_broken.sql", "CREATE TABLE b (x);\nINSERT INTO b VALUES ('oops);\n"),
]


def test_unparsable_migration_error_names_the_file(conn: sqlite3.Connection) -> None:
    with pytest.raises(MigrationError) as caught:
        apply_pending(conn, UNTERMINATED)
    assert "0002_broken.sql" in str(caught.value)


def test_unparsable_migration_leaves_no_transaction_open(tmp_path: Path) -> None:
    conn = connect(tmp_path / "o.db")
    other = connect(tmp_path / "o.db", busy_timeout_ms=100)
    try:
        with pytest.raises(MigrationError):
            apply_pending(conn, UNTERMINATED)
        assert conn.in_transaction is False
        assert "b" not in tables(conn)
        assert [name for _, name, _ in records(conn)] == ["0001_ok.sql"]
        # The write lock is released: another connection can write.
        other.execute("CREATE TABLE c (x)")
        assert "c" in tables(other)
    finally:
        other.close()
        conn.close()


# --- splitting into statements -----------------------------------------------------------------


def run(sql: str, query: str) -> list[tuple[object, ...]]:
    """Execute the split statements one by one on a fresh database, then answer the query."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for statement in statements(sql):
            memory.execute(statement)
        return [tuple(row) for row in memory.execute(query)]
    finally:
        memory.close()


def test_statements_simple_script() -> None:
    sql = "CREATE TABLE a (x);\nCREATE TABLE b (y);\n\nINSERT INTO a VALUES (1);\n"
    assert statements(sql) == [
        "CREATE TABLE a (x);",
        "CREATE TABLE b (y);",
        "INSERT INTO a VALUES (1);",
    ]


def test_statements_semicolons_inside_string_literals() -> None:
    sql = "CREATE TABLE t (v);\nINSERT INTO t VALUES ('a;b'), ('it''s; -- not a comment');\n"
    found = statements(sql)
    assert len(found) == 2
    assert found[1] == "INSERT INTO t VALUES ('a;b'), ('it''s; -- not a comment');"
    rows = run(sql, "SELECT v FROM t ORDER BY rowid")
    assert rows == [("a;b",), ("it's; -- not a comment",)]


def test_statements_semicolons_inside_comments() -> None:
    sql = (
        "-- header; with a semicolon\n"
        "CREATE TABLE t (v); -- trailing; comment\n"
        "/* block; comment; */\n"
        "INSERT INTO t VALUES (1);\n"
    )
    found = statements(sql)
    assert len(found) == 2
    assert found[0].endswith("CREATE TABLE t (v);")
    assert found[1].endswith("INSERT INTO t VALUES (1);")
    assert run(sql, "SELECT v FROM t") == [(1,)]


def test_statements_trigger_body_is_one_statement() -> None:
    trigger = (
        "CREATE TRIGGER a_log AFTER INSERT ON a\n"
        "BEGIN\n"
        "    INSERT INTO log VALUES ('one;');\n"
        "    INSERT INTO log VALUES (NEW.x);\n"
        "    UPDATE a SET x = x + 1 WHERE rowid = NEW.rowid;\n"
        "END;"
    )
    sql = f"CREATE TABLE a (x);\nCREATE TABLE log (v);\n{trigger}\nINSERT INTO a VALUES (41);\n"
    found = statements(sql)
    assert len(found) == 4
    assert found[2] == trigger
    assert run(sql, "SELECT v FROM log ORDER BY rowid") == [("one;",), (41,)]
    assert run(sql, "SELECT x FROM a") == [(42,)]


@pytest.mark.parametrize(
    "sql",
    [
        "",
        "\n\n",
        "-- only a comment\n",
        "-- only a comment; with a semicolon",
    ],
)
def test_statements_nothing_but_comments_is_empty(sql: str) -> None:
    assert statements(sql) == []


def test_statements_trailing_comment_only() -> None:
    sql = "CREATE TABLE a (x);\n-- the end; really\n"
    assert statements(sql) == ["CREATE TABLE a (x);"]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE a (x);\nINSERT INTO a VALUES ('never closed);\n",
        "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM a;\n",
        "CREATE TABLE a (x);\n/* never closed; CREATE TABLE b (y);\n",
    ],
    ids=["string", "trigger-without-end", "block-comment"],
)
def test_statements_unterminated_raises(sql: str) -> None:
    with pytest.raises(MigrationError, match="unterminated"):
        statements(sql)


# --- concurrency -------------------------------------------------------------------------------


def test_two_threads_migrating_at_once_apply_each_migration_once(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    candidates = [*available()] + [
        Migration(f"9{n:03d}_extra_{n}.sql", f"CREATE TABLE extra_{n} (x);") for n in range(1, 6)
    ]
    barrier = threading.Barrier(2)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            conn = connect(db)
            try:
                barrier.wait(timeout=10)
                results[n] = apply_pending(conn, candidates)
            finally:
                conn.close()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(results) == [0, 1]
    names = [m.name for m in candidates]
    # Between them, the two threads applied every migration, none twice.
    assert sorted(results[0] + results[1]) == sorted(names)
    conn = connect(db)
    try:
        assert [name for _, name, _ in records(conn)] == names
    finally:
        conn.close()


# --- connection pragmas ------------------------------------------------------------------------


def pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_connect_sets_pragmas(conn: sqlite3.Connection) -> None:
    assert pragma(conn, "journal_mode") == "wal"
    assert pragma(conn, "foreign_keys") == 1
    assert pragma(conn, "busy_timeout") == 5000
    assert pragma(conn, "synchronous") == 1  # NORMAL
    assert conn.isolation_level is None  # autocommit: transactions are opened explicitly


def test_connect_full_synchronous_and_busy_timeout(tmp_path: Path) -> None:
    conn = connect(tmp_path / "sub" / "o.db", synchronous="FULL", busy_timeout_ms=1234)
    try:
        assert pragma(conn, "synchronous") == 2  # FULL
        assert pragma(conn, "busy_timeout") == 1234
        assert pragma(conn, "journal_mode") == "wal"
        assert pragma(conn, "foreign_keys") == 1
    finally:
        conn.close()
    assert (tmp_path / "sub" / "o.db").exists()


def test_foreign_keys_are_enforced_after_migration(conn: sqlite3.Connection) -> None:
    apply_pending(conn)
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute(
            "INSERT INTO projects (id, org_id, name, domain, created_at)"
            " VALUES ('prj_x', 'org_missing', 'X', 'x.com', 0)"
        )


def test_statements_trailing_block_comment_is_not_a_statement() -> None:
    assert statements("CREATE TABLE a (x);\n/* the end; really */\n") == ["CREATE TABLE a (x);"]
