"""Project read tokens: `ovrt_` + 32 random bytes, shown once, stored as HMAC-SHA256 with
KEY_HASH_SECRET like key secrets. Each function runs in the caller's transaction or read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ingest import catalog, ids, keys
from ingest.clock import to_iso
from ingest.errors import not_found
from ingest.storage.sql import Conn

TOKEN_PREFIX = "ovrt_"  # noqa: S105 (a label, not a secret)
TOKEN_BYTES = 32
ID_PREFIX = "rt_"

_COLUMNS = "id, project_id, name, created_at, revoked_at"


@dataclass(frozen=True)
class ReadToken:
    id: str
    project_id: str
    name: str
    created_at: int
    revoked_at: int | None

    @property
    def status(self) -> str:
        return "revoked" if self.revoked_at is not None else "active"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "name": self.name,
            "status": self.status,
            "created_at": to_iso(self.created_at),
            "revoked_at": to_iso(self.revoked_at),
        }


def listing(project_id: str, listed: list[ReadToken]) -> dict[str, Any]:
    return {"project_id": project_id, "read_tokens": [token.to_json() for token in listed]}


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def create(
    conn: Conn, project_id: str, name: str, pepper: bytes, now: int
) -> tuple[ReadToken, str]:
    """A new token for the project, and the token itself (the only time it is known)."""
    catalog.get_project(conn, project_id)
    token = new_token()
    record = ReadToken(ids.new_id(ID_PREFIX), project_id, name, now, None)
    conn.execute(
        "INSERT INTO read_tokens (id, project_id, name, token_hash, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (record.id, project_id, name, keys.hash_secret(token, pepper), now),
    )
    return record, token


def listed(conn: Conn, project_id: str) -> list[ReadToken]:
    catalog.get_project(conn, project_id)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM read_tokens WHERE project_id = ? ORDER BY created_at, id",
        (project_id,),
    ).fetchall()
    return [ReadToken(*row) for row in rows]


def revoke(conn: Conn, project_id: str, token_id: str, now: int) -> ReadToken:
    """Revoke a token of the project; revoking it again changes nothing (retries are safe)."""
    catalog.hold(conn, "read_tokens", token_id)
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM read_tokens WHERE id = ? AND project_id = ?",
        (token_id, project_id),
    ).fetchone()
    if row is None:
        raise not_found("read token", f"{token_id} of project {project_id}")
    token = ReadToken(*row)
    if token.revoked_at is not None:
        return token
    conn.execute("UPDATE read_tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
    return ReadToken(token.id, token.project_id, token.name, token.created_at, now)


def lookup(conn: Conn, token: str, pepper: bytes) -> ReadToken | None:
    """The record of a token (revoked or not), or None. The hash is the lookup key: the
    HMAC is keyed, so comparing hashes in SQL reveals nothing about the token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM read_tokens WHERE token_hash = ?",
        (keys.hash_secret(token, pepper),),
    ).fetchone()
    return ReadToken(*row) if row else None
