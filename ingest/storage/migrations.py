"""Apply migrations/NNNN_name.sql in order, recorded the way `wrangler d1 migrations apply` does."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ingest.storage.connection import connect

MIGRATION_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")

# Wrangler's own definition, so that either tool can take over a database from the other.
CREATE_TABLE = """CREATE TABLE IF NOT EXISTS d1_migrations(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)"""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


class MigrationError(Exception):
    pass


def available(subfolder: str = "") -> list[Migration]:
    """The NNNN_name.sql files of the migrations package (or of one of its folders), in order."""
    folder = resources.files("migrations")
    if subfolder:
        folder = folder.joinpath(subfolder)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            if not MIGRATION_NAME.match(entry.name):
                raise MigrationError(f"migration file name {entry.name!r} is not NNNN_name.sql")
            found.append(Migration(entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.name)


def applied(conn: sqlite3.Connection) -> list[str]:
    conn.execute(CREATE_TABLE)
    return [row[0] for row in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]


def pending(conn: sqlite3.Connection, candidates: list[Migration] | None = None) -> list[Migration]:
    done = set(applied(conn))
    return [m for m in (available() if candidates is None else candidates) if m.name not in done]


def statements(sql: str) -> list[str]:
    """Split a script into complete statements (sqlite3 decides where each one ends)."""
    found, buffer = [], ""
    for chunk in sql.split(";"):
        buffer += chunk + ";"
        if sqlite3.complete_statement(buffer):
            if _code(buffer):
                found.append(buffer.strip())
            buffer = ""
    if _code(buffer.removesuffix(";")):
        raise MigrationError(f"unterminated statement: {buffer.strip()[:80]!r}")
    return found


_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def _code(text: str) -> bool:
    """Whether text holds anything besides comments, blanks and semicolons."""
    lines = (line.split("--", 1)[0] for line in _BLOCK_COMMENT.sub(" ", text).splitlines())
    return any(line.strip().strip(";").strip() for line in lines)


def apply_pending(conn: sqlite3.Connection, candidates: list[Migration] | None = None) -> list[str]:
    """Apply each pending migration in its own transaction; return the names applied.

    The applied check runs again inside the write lock, so two processes migrating at once
    apply each migration exactly once.
    """
    names = []
    for migration in pending(conn, candidates):
        try:
            # Split before taking the write lock: a malformed file must not leave it held.
            script = statements(migration.sql)
        except MigrationError as exc:
            raise MigrationError(f"migration {migration.name} cannot be read: {exc}") from exc
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute(
                "SELECT 1 FROM d1_migrations WHERE name = ?", (migration.name,)
            ).fetchone():
                conn.execute("ROLLBACK")
                continue
            for statement in script:
                conn.execute(statement)
            conn.execute("INSERT INTO d1_migrations (name) VALUES (?)", (migration.name,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
        names.append(migration.name)
    return names


def migrate_database(
    path: Path, synchronous: str = "NORMAL", busy_timeout_ms: int = 5000
) -> list[str]:
    """Open the database file (creating it), apply what is pending, close it."""
    conn = connect(path, synchronous, busy_timeout_ms)
    try:
        return apply_pending(conn)
    finally:
        conn.close()
