"""The database file itself: whether it may be created, and whether it is still the one we opened.

SQLite keeps writing into a file that was deleted or replaced under it, and commits succeed:
acknowledged events then vanish with the unlinked inode. So the file's identity (device and
inode) is recorded when it is opened and compared with what the path names now before every
commit; an os.stat costs about 2 us.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ingest.storage.sql import is_postgres_url, redacted

DB_SETTING = "OPTIVIEW_DB"


class DatabaseFileError(Exception):
    """The database file is missing, not a file, or not the one this process opened."""


class FileIdentity(NamedTuple):
    device: int
    inode: int


def identity(path: Path | str) -> FileIdentity | None:
    """What the path names now, or None when nothing is there."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return FileIdentity(found.st_dev, found.st_ino)


def lost_reason(path: Path | str, opened: FileIdentity) -> str | None:
    """Why the file at `path` is no longer the one opened as `opened`; None while it is."""
    now = identity(path)
    if now == opened:
        return None
    what = "deleted" if now is None else "replaced by another file"
    return (
        f"database file {path} was {what} while serving; nothing more is written into the"
        f" old one: restore the file (or point {DB_SETTING} at it) and restart"
    )


CREATE_HINT = "create an empty database with `optiview migrate` (or `optiview serve --create-db`)"


def describe(path: Path | str, configured: bool) -> str:
    """Which database file a command uses, said on stderr: without OPTIVIEW_DB the default
    path is relative to the current folder, and a command run from another folder would
    otherwise read (or create) a different database than the server's, silently."""
    if is_postgres_url(path):
        return f"database {redacted(path)} ({DB_SETTING})"
    where = Path(path).absolute()
    if configured:
        return f"database {where} ({DB_SETTING})"
    return f"database {where} ({DB_SETTING} is not set: the default, in the current folder)"


def ensure_database_file(path: Path | str, *, create: bool, create_hint: str = CREATE_HINT) -> bool:
    """Check that the database file exists, or create its folder when `create` allows;
    return whether a new database will be created (SQLite makes the file on first open).

    A missing file is an error unless the caller says a new, empty database is wanted: quietly
    starting on an empty one makes every existing key unknown.
    """
    if is_postgres_url(path):
        return False  # a server's database: connecting says whether it is there
    file = Path(path)
    if file.exists():
        if not file.is_file():
            raise DatabaseFileError(f"database path {file} ({DB_SETTING}) is not a file")
        return False
    wal = file.with_name(file.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # SQLite would replay this log into the new file: pages of another database.
        raise DatabaseFileError(
            f"database file {file} ({DB_SETTING}) is missing but its write-ahead log {wal}"
            " is still there: restore the database file, or move the log away to start empty"
        )
    if not create:
        raise DatabaseFileError(
            f"database file {file.absolute()} does not exist: check {DB_SETTING}, restore"
            f" the file, or {create_hint}"
        )
    file.parent.mkdir(parents=True, exist_ok=True)
    return True


__all__ = [
    "CREATE_HINT",
    "DatabaseFileError",
    "FileIdentity",
    "describe",
    "ensure_database_file",
    "identity",
    "lost_reason",
]
