"""Every file in migrations/ must also apply on Cloudflare D1 with `wrangler d1 migrations apply`.

D1 rules: NNNN_name.sql names numbered without gaps; no PRAGMA, transaction control (BEGIN,
COMMIT, ROLLBACK, SAVEPOINT), TEMP tables, ATTACH/DETACH or VACUUM; at most 100 columns per table
and 100 bound parameters per statement. The tests are parametrized over the files on disk, so a
new migration is checked without editing this file.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
FILES = sorted(p.name for p in MIGRATIONS.iterdir() if p.suffix.lower() == ".sql")
NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
MAX_COLUMNS = 100
MAX_PARAMETERS = 100

# Word-bounded, case-insensitive, anywhere in the code (comments and literals stripped).
FORBIDDEN = re.compile(
    r"\b(PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|TEMP|TEMPORARY|ATTACH|DETACH|VACUUM)\b",
    re.IGNORECASE,
)
# Transaction control spelled with words that are fine elsewhere (END of a trigger or CASE).
FORBIDDEN_STATEMENT = re.compile(r"^\s*(END|RELEASE)\b", re.IGNORECASE)
TRIGGER = re.compile(r"^\s*CREATE\s+TRIGGER\b", re.IGNORECASE)
# Anonymous, numbered and named SQLite parameters.
PARAMETER = re.compile(r"\?\d*|[:@$][A-Za-z_]\w*")
# A comment or a quoted token; alternation order makes the earliest opener win.
_STRIP = re.compile(
    r"--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|`[^`]*`?|\[[^\]]*\]?",
    re.DOTALL,
)


def strip_sql(sql: str) -> str:
    """The code only: comments removed, string literals and quoted identifiers blanked."""

    def blank(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith(("--", "/*")):
            return " "
        return " '' "

    return _STRIP.sub(blank, sql)


def split(code: str) -> list[str]:
    """Statements of already stripped code; a trigger body stays inside its statement."""
    found, buffer = [], ""
    for chunk in code.split(";"):
        buffer += chunk + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):
                found.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        found.append(buffer.strip())
    return found


def violations(sql: str) -> list[str]:
    """What D1 would refuse in a migration file, as readable messages."""
    problems = []
    for statement in split(strip_sql(sql)):
        checked = statement
        if TRIGGER.match(statement):
            # The one BEGIN that opens the trigger body is not a transaction.
            checked = re.sub(r"\bBEGIN\b", " ", statement, count=1, flags=re.IGNORECASE)
        for word in FORBIDDEN.finditer(checked):
            problems.append(f"{word.group(1).upper()} in: {statement[:80]}")
        if control := FORBIDDEN_STATEMENT.match(checked):
            problems.append(f"{control.group(1).upper()} statement: {statement[:80]}")
        parameters = len(PARAMETER.findall(statement))
        if parameters > MAX_PARAMETERS:
            problems.append(f"{parameters} bound parameters in: {statement[:80]}")
    return problems


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """A fresh database with every migration applied in order, as plain scripts."""
    conn = sqlite3.connect(tmp_path_factory.mktemp("d1") / "d1.db", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    for name in FILES:
        conn.executescript((MIGRATIONS / name).read_text(encoding="utf-8"))
    yield conn
    conn.close()


def test_there_are_migrations() -> None:
    assert FILES[0] == "0001_provisioning.sql"


@pytest.mark.parametrize("name", FILES)
def test_file_name_is_numbered(name: str) -> None:
    assert NAME.match(name), f"{name} is not NNNN_name.sql (lower-case, digits, underscores)"


@pytest.mark.parametrize("name", FILES)
def test_no_statement_d1_refuses(name: str) -> None:
    assert violations((MIGRATIONS / name).read_text(encoding="utf-8")) == []


def test_numbers_are_consecutive_from_0001() -> None:
    numbers = [int(name[:4]) for name in FILES if name[:4].isdigit()]
    assert len(numbers) == len(FILES)
    assert numbers == list(range(1, len(FILES) + 1)), FILES


def test_tables_have_at_most_100_columns(migrated: sqlite3.Connection) -> None:
    tables = [
        r[0]
        for r in migrated.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    assert tables
    widths = {t: len(migrated.execute(f"PRAGMA table_info({t!r})").fetchall()) for t in tables}
    assert {t: n for t, n in widths.items() if n > MAX_COLUMNS} == {}
    assert all(n > 0 for n in widths.values())


def test_contract_tables_exist(migrated: sqlite3.Connection) -> None:
    def columns(table: str) -> set[str]:
        return {r[1] for r in migrated.execute(f"PRAGMA table_info({table!r})")}

    assert {"id", "name", "domain", "plan", "created_at"} <= columns("orgs")
    assert {"id", "org_id", "name", "domain", "description", "created_at"} <= columns("projects")
    assert {"id", "project_id", "domain", "type", "active", "is_default"} <= columns("properties")
    assert {"id", "property_id", "name", "secret_hash", "status", "expires_at"} <= columns(
        "api_keys"
    )
    assert {"project_id", "source", "enabled"} <= columns("project_ai_sources")
    assert "secret" not in columns("api_keys")


def test_plan_is_limited_to_the_three_plans(migrated: sqlite3.Connection) -> None:
    migrated.execute("INSERT INTO orgs VALUES ('org_plan_ok', 'A', 'a.com', 'pro', 0)")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        migrated.execute("INSERT INTO orgs VALUES ('org_plan_bad', 'B', 'b.com', 'gold', 0)")
    plans = [r[0] for r in migrated.execute("SELECT plan FROM orgs WHERE id LIKE 'org_plan_%'")]
    assert plans == ["pro"]


# --- the checker itself, so that a clean result means something -------------------------------

TRIGGER_SQL = """CREATE TRIGGER t AFTER INSERT ON a
BEGIN
    INSERT INTO log VALUES (NEW.x);
    UPDATE a SET x = CASE WHEN x > 0 THEN x ELSE 0 END WHERE rowid = NEW.rowid;
END;"""


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("CREATE TABLE a (x);", []),
        ("-- PRAGMA, BEGIN, VACUUM in a comment; fine\nCREATE TABLE a (x);", []),
        ("/* ATTACH; COMMIT */ CREATE TABLE a (x);", []),
        ("INSERT INTO log VALUES ('BEGIN; COMMIT; vacuum');", []),
        ('CREATE TABLE a ("temp" TEXT);', []),
        ("CREATE TABLE a (begin_at INTEGER, temperature REAL);", []),
        (TRIGGER_SQL, []),
        ("PRAGMA foreign_keys = ON;", ["PRAGMA"]),
        ("pragma journal_mode=wal;", ["PRAGMA"]),
        ("BEGIN;\nCREATE TABLE a (x);\nCOMMIT;", ["BEGIN", "COMMIT"]),
        ("BEGIN TRANSACTION; CREATE TABLE a (x); END TRANSACTION;", ["BEGIN", "END"]),
        ("SAVEPOINT s; CREATE TABLE a (x); RELEASE s;", ["SAVEPOINT", "RELEASE"]),
        ("CREATE TABLE a (x); ROLLBACK;", ["ROLLBACK"]),
        ("CREATE TEMP TABLE a (x);", ["TEMP"]),
        ("CREATE TEMPORARY TABLE a (x);", ["TEMPORARY"]),
        ("ATTACH DATABASE 'x.db' AS x; DETACH x;", ["ATTACH", "DETACH"]),
        ("VACUUM;", ["VACUUM"]),
        (TRIGGER_SQL.replace("BEGIN\n", "BEGIN\n    BEGIN;\n", 1), ["BEGIN"]),
        ("INSERT INTO a VALUES (" + ", ".join("?" * 101) + ");", ["101 bound parameters"]),
        ("INSERT INTO a VALUES (" + ", ".join("?" * 100) + ");", []),
    ],
)
def test_checker_flags_what_d1_refuses(sql: str, expected: list[str]) -> None:
    found = violations(sql)
    assert len(found) == len(expected), found
    for problem, word in zip(found, expected, strict=True):
        assert problem.startswith(word), (problem, word)
