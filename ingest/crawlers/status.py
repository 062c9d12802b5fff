"""What `optiview crawlers status` shows: per source, the copy in use and its age."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.crawlers.keydirectory import KEY_DIRECTORIES, parse_directory
from ingest.crawlers.keydirectory import refreshed_path as key_path
from ingest.crawlers.ranges import REFRESHED, VENDORED, load_lists
from ingest.crawlers.refresh import KEY_SOURCES
from ingest.crawlers.sources import RANGE_SOURCES, Source


@dataclass(frozen=True, slots=True)
class SourceStatus:
    source: Source
    origin: str | None  # VENDORED | REFRESHED; None: no usable copy (refresh fetches one)
    entries: int  # prefixes or keys
    created: datetime | None  # the list's creationTime (else its file's time); a snapshot's date
    path: str | None

    def age_days(self, now: datetime) -> float | None:
        return None if self.created is None else (now - self.created).total_seconds() / 86400


def _key_status(source: Source, data_dir: Path | None) -> SourceStatus:
    directory = next(d for d in KEY_DIRECTORIES if d.name == source.name)
    found: list[SourceStatus] = []
    if directory.snapshot_date is not None and directory.vendored_path.is_file():
        try:
            vendored = directory.vendored_path
            keys = parse_directory(vendored.read_bytes())
            snapshot = directory.snapshot_date
            found.append(SourceStatus(source, VENDORED, len(keys), snapshot, str(vendored)))
        except (OSError, ValueError):
            pass
    if data_dir is not None and (path := key_path(data_dir, directory)).is_file():
        try:
            keys = parse_directory(path.read_bytes())
            created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            found.append(SourceStatus(source, REFRESHED, len(keys), created, str(path)))
        except (OSError, ValueError):
            pass
    if not found:
        return SourceStatus(source, None, 0, None, None)
    return max(found, key=lambda s: s.created or datetime.min.replace(tzinfo=UTC))


def statuses(data_dir: Path | None) -> list[SourceStatus]:
    lists = load_lists(data_dir)
    rows = []
    for source in RANGE_SOURCES:
        item = lists.get(source.name)
        if item is None:
            rows.append(SourceStatus(source, None, 0, None, None))
        else:
            rows.append(
                SourceStatus(source, item.origin, len(item.networks), item.created, item.path)
            )
    rows.extend(_key_status(source, data_dir) for source in KEY_SOURCES)
    return rows


__all__ = ["SourceStatus", "statuses"]
