"""A log file's lines, gzip or plain (told by its first bytes, not its name)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"


class LogFileError(Exception):
    """A file that cannot be read as a log: said in one line."""


@dataclass(slots=True)
class LogFile:
    lines: IO[str]
    raw: IO[bytes]

    def position(self) -> int:
        """Bytes of the file read so far (compressed ones, for a gzip): for progress."""
        return self.raw.tell()


@contextmanager
def open_log(path: Path) -> Iterator[LogFile]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise LogFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if compressed else raw  # type: ignore[assignment]
        # Invalid UTF-8 stays as escapes: that line fails to parse (counted), not the file.
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline="")
        try:
            yield LogFile(text, raw)
        except (OSError, EOFError) as exc:  # a damaged or truncated gzip
            raise LogFileError(f"cannot read {path}: {exc}") from None
        finally:
            text.detach()


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise LogFileError(f"cannot read {path}: {exc.strerror or exc}") from None
