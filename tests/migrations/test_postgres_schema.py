"""The PostgreSQL migrations build the schema the SQLite/D1 migrations build.

A fresh SQLite file and a fresh PostgreSQL database are migrated by the service's own code,
then described in the same terms and compared: the tables; per column its name, type family,
NOT NULL, default and whether the database assigns it; the primary key, UNIQUE constraints and
foreign keys; the named indexes with their columns, uniqueness and partial predicate. A
difference fails with one readable line per difference.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest.storage import migrations, pg_migrations

# SQLite declared type -> family; PostgreSQL data_type -> family. PostgreSQL's `real` is
# float4, not SQLite's 8-byte REAL, so it is a family of its own and fails the comparison.
SQLITE_FAMILY = {"INTEGER": "integer", "TEXT": "text", "REAL": "double", "TIMESTAMP": "timestamp"}
POSTGRES_FAMILY = {
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "text": "text",
    "double precision": "double",
    "real": "float4 (single precision: use DOUBLE PRECISION)",
    "timestamp without time zone": "timestamp",
}
# Columns that are SQLite rowid aliases (INTEGER PRIMARY KEY) but always given by the code, so
# their twins need no identity: a one-row table's fixed id (request_rollups.minute was one
# until 0011 keyed the table by minute and node).
KEYED_BY_CODE = {("stats_folded", "id")}
ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

Schema = dict[str, dict[str, Any]]


def normalize_default(value: str | None) -> str | None:
    """A column default as both engines would agree: casts and outer parentheses dropped."""
    if value is None:
        return None
    if "now()" in value or value.upper() == "CURRENT_TIMESTAMP":
        return "now"
    value = re.sub(r"::[a-z ]+", "", value)
    while value.startswith("(") and value.endswith(")"):
        value = value[1:-1]
    return value


def normalize_predicate(value: str | None) -> str | None:
    """A partial index's WHERE clause with parentheses, casts, case and spacing ignored."""
    if value is None:
        return None
    value = re.sub(r"::[a-z ]+", "", value).replace("(", " ").replace(")", " ")
    return " ".join(value.lower().split())


def describe_sqlite(conn: sqlite3.Connection) -> Schema:
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    schema: Schema = {}
    for table in tables:
        info = conn.execute(f"PRAGMA table_info({table!r})").fetchall()
        pk = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        # A one-column INTEGER PRIMARY KEY is the rowid: SQLite assigns it when omitted.
        rowid = (
            pk[0]
            if len(pk) == 1 and any(r[1] == pk[0] and r[2] == "INTEGER" for r in info)
            else None
        )
        columns = {
            # SQLite lets a TEXT PRIMARY KEY hold NULL (a legacy quirk); no code relies on it.
            name: (
                SQLITE_FAMILY.get(declared.upper(), declared),
                bool(notnull) or name in pk,
                normalize_default(default),
                name == rowid,
            )
            for _, name, declared, notnull, default, _ in info
        }
        uniques, indexes = set(), {}
        for _, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({table!r})"):
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index!r})"))
            if origin == "u":
                uniques.add(cols)
            elif origin == "c":
                predicate = None
                if partial:
                    (sql,) = conn.execute(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
                    ).fetchone()
                    predicate = re.split(r"\bWHERE\b", sql, maxsplit=1, flags=re.IGNORECASE)[1]
                indexes[index] = (cols, bool(unique), normalize_predicate(predicate))
        foreign = {
            (r[3], r[2], r[4], r[6])  # from column, table, to column, on delete
            for r in conn.execute(f"PRAGMA foreign_key_list({table!r})")
        }
        schema[table] = {
            "columns": columns,
            "primary key": tuple(pk),
            "unique": uniques,
            "foreign keys": foreign,
            "indexes": indexes,
        }
    return schema


def describe_postgres(conn: psycopg.Connection[Any]) -> Schema:
    schema: Schema = {}
    for table, name, data_type, nullable, default, identity in conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity"
        " FROM information_schema.columns WHERE table_schema = current_schema()"
        " ORDER BY table_name, ordinal_position"
    ):
        entry = schema.setdefault(
            table,
            {
                "columns": {},
                "primary key": (),
                "unique": set(),
                "foreign keys": set(),
                "indexes": {},
            },
        )
        entry["columns"][name] = (
            POSTGRES_FAMILY.get(data_type, data_type),
            nullable == "NO",
            normalize_default(default),
            identity == "YES",
        )
    for table, kind, cols, ref_table, ref_cols, on_delete in conn.execute(
        """SELECT c.conrelid::regclass::text, c.contype,
            ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k (n, i)
                  JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.n
                  ORDER BY k.i),
            c.confrelid::regclass::text,
            ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k (n, i)
                  JOIN pg_attribute AS a ON a.attrelid = c.confrelid AND a.attnum = k.n
                  ORDER BY k.i),
            c.confdeltype
        FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace
        WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u', 'f')"""
    ):
        entry = schema[table]
        if kind == "p":
            entry["primary key"] = tuple(cols)
        elif kind == "u":
            entry["unique"].add(tuple(cols))
        else:
            for col, ref_col in zip(cols, ref_cols, strict=True):
                entry["foreign keys"].add((col, ref_table, ref_col, ON_DELETE[on_delete]))
    for table, index, cols, unique, predicate in conn.execute(
        """SELECT t.relname::text, i.relname::text,
            ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k (n, o)
                  JOIN pg_attribute AS a ON a.attrelid = x.indrelid AND a.attnum = k.n
                  ORDER BY k.o),
            x.indisunique, pg_get_expr(x.indpred, x.indrelid)
        FROM pg_index AS x
        JOIN pg_class AS i ON i.oid = x.indexrelid
        JOIN pg_class AS t ON t.oid = x.indrelid
        JOIN pg_namespace AS n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema()
            AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = x.indexrelid)"""
    ):
        schema[table]["indexes"][index] = (tuple(cols), unique, normalize_predicate(predicate))
    return schema


def differences(sqlite: Schema, postgres: Schema) -> list[str]:
    """One line per way the PostgreSQL schema departs from the SQLite one."""
    found = [f"table {t}: only in SQLite" for t in sorted(sqlite.keys() - postgres.keys())]
    found += [f"table {t}: only in PostgreSQL" for t in sorted(postgres.keys() - sqlite.keys())]
    for table in sorted(sqlite.keys() & postgres.keys()):
        a, b = sqlite[table], postgres[table]
        for column in sorted(a["columns"].keys() | b["columns"].keys()):
            left, right = a["columns"].get(column), b["columns"].get(column)
            if left is None or right is None:
                where = "SQLite" if right is None else "PostgreSQL"
                found.append(f"{table}.{column}: only in {where}")
                continue
            (lf, ln, ld, lrowid), (rf, rn, rd, ridentity) = left, right
            if lf != rf:
                found.append(f"{table}.{column}: type {lf} in SQLite, {rf} in PostgreSQL")
            if ln != rn:
                found.append(f"{table}.{column}: NOT NULL {ln} in SQLite, {rn} in PostgreSQL")
            if ld != rd:
                found.append(f"{table}.{column}: default {ld} in SQLite, {rd} in PostgreSQL")
            if ridentity and not lrowid:
                found.append(f"{table}.{column}: identity in PostgreSQL, not assigned in SQLite")
            if lrowid and not ridentity and (table, column) not in KEYED_BY_CODE:
                found.append(f"{table}.{column}: assigned by SQLite (rowid), no identity here")
        for key in ("primary key", "unique", "foreign keys"):
            if a[key] != b[key]:
                found.append(f"{table} {key}: {a[key]} in SQLite, {b[key]} in PostgreSQL")
        for index in sorted(a["indexes"].keys() | b["indexes"].keys()):
            left, right = a["indexes"].get(index), b["indexes"].get(index)
            if left != right:
                found.append(f"index {table}.{index}: {left} in SQLite, {right} in PostgreSQL")
    return found


@pytest.fixture(scope="module")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    path: Path = tmp_path_factory.mktemp("schema") / "twin.db"
    migrations.migrate_database(path)
    conn = sqlite3.connect(path)
    try:
        return describe_sqlite(conn)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def postgres_conn(postgres_db: str) -> Iterator[psycopg.Connection[Any]]:
    pg_migrations.migrate_database(postgres_db)
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        yield conn


def test_postgres_schema_equals_sqlite_schema(
    sqlite_schema: Schema, postgres_conn: psycopg.Connection[Any]
) -> None:
    found = differences(sqlite_schema, describe_postgres(postgres_conn))
    assert not found, "PostgreSQL migrations differ from SQLite's:\n" + "\n".join(found)


def test_the_comparison_sees_every_kind_of_difference(
    sqlite_schema: Schema, postgres_conn: psycopg.Connection[Any]
) -> None:
    """Drift made inside a transaction that is rolled back (PostgreSQL DDL is transactional)."""
    with pytest.raises(RuntimeError), postgres_conn.transaction():
        for statement in [
            "ALTER TABLE events ALTER COLUMN ts TYPE real",
            "ALTER TABLE events ALTER COLUMN name SET NOT NULL",
            "ALTER TABLE events ALTER COLUMN off_site SET DEFAULT 1",
            "ALTER TABLE orgs DROP COLUMN domain",
            "ALTER TABLE alerts ALTER COLUMN id DROP IDENTITY",
            "ALTER TABLE read_tokens DROP CONSTRAINT read_tokens_token_hash_key",
            "ALTER TABLE api_keys DROP CONSTRAINT api_keys_property_id_fkey",
            "DROP INDEX events_property_off_site_ts",
            "CREATE INDEX events_property_off_site_ts ON events (property_id, ts)",
            "DROP INDEX stats_hours_empty",
            "CREATE TABLE extra (x TEXT)",
        ]:
            postgres_conn.execute(statement.encode())
        found = "\n".join(differences(sqlite_schema, describe_postgres(postgres_conn)))
        raise RuntimeError("roll back")
    for expected in [
        "events.ts: type integer in SQLite, float4 (single precision",
        "events.name: NOT NULL False in SQLite, True in PostgreSQL",
        "events.off_site: default 0 in SQLite, 1 in PostgreSQL",
        "orgs.domain: only in SQLite",
        "alerts.id: assigned by SQLite (rowid), no identity here",
        "read_tokens unique:",
        "api_keys foreign keys:",
        "index events.events_property_off_site_ts:",
        "index stats_hours.stats_hours_empty:",
        "table extra: only in PostgreSQL",
    ]:
        assert expected in found
    assert not differences(sqlite_schema, describe_postgres(postgres_conn))


def test_postgres_refuses_what_sqlite_checks(postgres_conn: psycopg.Connection[Any]) -> None:
    """CHECK constraints are kept (the comparison does not read them)."""
    with pytest.raises(psycopg.errors.CheckViolation):
        postgres_conn.execute("INSERT INTO orgs VALUES ('org_bad', 'B', 'b.com', 'gold', 0)")
    with pytest.raises(psycopg.errors.CheckViolation):
        postgres_conn.execute("UPDATE stats_folded SET id = 2")


def test_milliseconds_fit(postgres_conn: psycopg.Connection[Any]) -> None:
    """Times are ms since the epoch: beyond INTEGER's 2**31 since January 1970."""
    with postgres_conn.transaction(force_rollback=True):
        postgres_conn.execute(
            "INSERT INTO orgs VALUES ('org_ms', 'A', 'a.com', 'pro', %s)", (1_750_000_000_000,)
        )
