"""Fetch fresh copies of the operators' range lists and key directories into the data folder.

Each download is validated (ranges.parse_range_file, keydirectory.parse_directory) before it
replaces anything, and written to a temporary file in the same folder then renamed over the
old one: a failed or half-finished fetch leaves the previous copy as it was. The only network
use of the service besides Slack, and only when an operator runs `optiview crawlers refresh`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx

from ingest.crawlers.keydirectory import KEY_DIRECTORIES
from ingest.crawlers.keydirectory import parse_directory as parse_key_directory
from ingest.crawlers.keydirectory import refreshed_path as key_path
from ingest.crawlers.ranges import parse_range_file
from ingest.crawlers.ranges import refreshed_path as range_path
from ingest.crawlers.sources import KIND_KEYS, RANGE_SOURCES, Source

TIMEOUT_S: Final = 20.0
MAX_BYTES: Final = 4 * 1024 * 1024  # Google's largest list is about 100 KB
USER_AGENT: Final = "optiview-edge crawlers refresh"


# The Web Bot Auth key directories (keydirectory.py), as sources under the same names.
KEY_SOURCES: Final[tuple[Source, ...]] = tuple(
    Source(directory.name, directory.operator, KIND_KEYS, directory.url)
    for directory in KEY_DIRECTORIES
)
SOURCES: Final[tuple[Source, ...]] = RANGE_SOURCES + KEY_SOURCES
SOURCES_BY_NAME: Final[dict[str, Source]] = {source.name: source for source in SOURCES}


@dataclass(frozen=True, slots=True)
class Outcome:
    source: Source
    path: Path
    error: str | None  # None: fetched, validated and saved
    detail: str  # e.g. "321 prefixes" or "2 keys"


def destination(data_dir: Path, source: Source) -> Path:
    if source.kind == KIND_KEYS:
        directory = next(d for d in KEY_DIRECTORIES if d.name == source.name)
        return key_path(data_dir, directory)
    return range_path(data_dir, source)


def source_url(source: Source, base_url: str | None) -> str:
    """The source's URL, or the same host and path under `base_url` (a mirror, or a test's
    local server): https://openai.com/gptbot.json -> <base_url>/openai.com/gptbot.json. The
    host stays in the path because several sources share one path (/.well-known/...)."""
    if not base_url:
        return source.url
    original = urlsplit(source.url)
    return f"{base_url.rstrip('/')}/{original.netloc}{original.path}" + (
        f"?{original.query}" if original.query else ""
    )


def validate(source: Source, data: bytes) -> str:
    """What the download holds, e.g. "321 prefixes"; ValueError when it is unusable."""
    if source.kind == KIND_KEYS:
        keys = parse_key_directory(data)
        return f"{len(keys)} keys"
    _, networks = parse_range_file(data)
    return f"{len(networks)} prefixes"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fetch(client: httpx.Client, url: str) -> bytes:
    """The body of a 200 answer (redirects not followed: the draft forbids it for key
    directories, and every operator serves its list where it says); OSError-free: errors
    come back as httpx.HTTPError or ValueError with a reason."""
    with client.stream("GET", url) as answer:
        if answer.status_code != 200:
            raise ValueError(f"HTTP {answer.status_code} from {url}")
        body = bytearray()
        for chunk in answer.iter_bytes():
            body += chunk
            if len(body) > MAX_BYTES:
                raise ValueError(f"larger than {MAX_BYTES} bytes")
        return bytes(body)


def refresh(
    data_dir: Path,
    sources: Iterable[Source],
    *,
    base_url: str | None = None,
    progress: Callable[[Outcome], None] = lambda outcome: None,
    timeout_s: float = TIMEOUT_S,
) -> list[Outcome]:
    outcomes = []
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/json, application/http-message-signatures-directory+json",
    }
    with httpx.Client(timeout=timeout_s, headers=headers, follow_redirects=False) as client:
        for source in sources:
            path = destination(data_dir, source)
            url = source_url(source, base_url)
            try:
                data = fetch(client, url)
                detail = validate(source, data)
                write_atomically(path, data)
                outcome = Outcome(source, path, None, detail)
            except httpx.HTTPError as exc:
                outcome = Outcome(source, path, f"{url}: {type(exc).__name__}: {exc}", "")
            except (ValueError, OSError) as exc:
                outcome = Outcome(source, path, f"{url}: {exc}", "")
            progress(outcome)
            outcomes.append(outcome)
    return outcomes


__all__ = [
    "KEY_SOURCES",
    "SOURCES",
    "SOURCES_BY_NAME",
    "Outcome",
    "destination",
    "refresh",
    "source_url",
    "validate",
    "write_atomically",
]
