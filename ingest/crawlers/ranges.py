"""The operators' published IP range lists, loaded into one lookup: address -> the lists
that contain it.

Every prefix of every list becomes an integer interval; the intervals of one address family
are cut into disjoint segments, each labelled with the lists covering it, so that one bisect
over the segments' starts answers for all lists at once (overlaps between lists included).
Measured with the vendored lists (3,500 prefixes), in CPU time on this shared 2-core machine
under load (`python -m ingest.crawlers.ranges`): 0.8 µs per IPv4 lookup, 1.6 µs per IPv6 one,
the address parse included (inet_pton; ipaddress.ip_address alone took 3.4 µs). pytricia (a C
patricia trie, PyPI 1.3.0) answered in 0.3 µs, but a lookup runs only for hits that claim a
crawler with a published list, and 0.5 µs there does not pay for a compiled dependency; it
also keeps one value per prefix, where nested prefixes of different lists need all of them.

A refreshed copy in the data folder (`optiview crawlers refresh`) is used instead of the
vendored one when it is newer (by its creationTime, else the file's modification time).
"""

from __future__ import annotations

import ipaddress
import json
import logging
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from socket import AF_INET, AF_INET6, inet_pton
from typing import Final

from ingest.crawlers.sources import RANGE_SOURCES, Source

log = logging.getLogger("optiview.crawlers")

VENDORED: Final = "vendored"
REFRESHED: Final = "refreshed"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
NOWHERE: Final[frozenset[str]] = frozenset()
_MAPPED_PREFIX: Final = 0xFFFF


def parse_range_file(data: bytes) -> tuple[datetime | None, list[Network]]:
    """(creationTime, prefixes) of an operator's range list; ValueError saying what is wrong.

    Refused: anything but a JSON object with a non-empty "prefixes" list of objects each
    holding an "ipv4Prefix" or "ipv6Prefix" CIDR (an empty list would fail every claim)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    prefixes = doc.get("prefixes")
    if not isinstance(prefixes, list) or not prefixes:
        raise ValueError('no "prefixes" list, or an empty one')
    networks: list[Network] = []
    for index, entry in enumerate(prefixes):
        cidr = (
            entry.get("ipv4Prefix") or entry.get("ipv6Prefix") if isinstance(entry, dict) else None
        )
        if not isinstance(cidr, str):
            raise ValueError(f"prefixes[{index}] has no ipv4Prefix or ipv6Prefix string")
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"prefixes[{index}]: {exc}") from None
    return _creation_time(doc.get("creationTime")), networks


def _creation_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RangeList:
    source: Source
    created: datetime | None  # the list's creationTime, or its file's time when it has none
    networks: tuple[Network, ...]
    origin: str  # VENDORED | REFRESHED
    path: str


class RangeIndex:
    """Address -> names of the lists containing it, for IPv4 and IPv6 (IPv4-mapped IPv6
    addresses are looked up as the IPv4 address they carry)."""

    def __init__(self, lists: Mapping[str, Iterable[Network]]) -> None:
        by_family: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for name, networks in lists.items():
            for net in networks:
                start = int(net.network_address)
                by_family[net.version].append((start, start + net.num_addresses, name))
        self._starts: dict[int, list[int]] = {}
        self._labels: dict[int, list[frozenset[str]]] = {}
        for version, intervals in by_family.items():
            self._starts[version], self._labels[version] = _segments(intervals)

    def lists_containing(self, ip: str) -> frozenset[str]:
        """Names of the lists whose prefixes hold `ip`; empty when none does or `ip` is not an
        address."""
        key = address_key(ip)
        if key is None:
            return NOWHERE
        version, value = key
        at = bisect_right(self._starts[version], value) - 1
        return self._labels[version][at] if at >= 0 else NOWHERE


def address_key(ip: str) -> tuple[int, int] | None:
    """(4 or 6, the address as an integer); an IPv4-mapped IPv6 address as its IPv4 one.
    inet_pton (C) rather than ipaddress.ip_address, which took 80% of a lookup."""
    try:
        return 4, int.from_bytes(inet_pton(AF_INET, ip), "big")
    except (OSError, ValueError):
        pass
    try:
        value = int.from_bytes(inet_pton(AF_INET6, ip), "big")
    except (OSError, ValueError):
        return None
    if value >> 32 == _MAPPED_PREFIX:  # ::ffff:a.b.c.d
        return 4, value & 0xFFFF_FFFF
    return 6, value


def _segments(intervals: list[tuple[int, int, str]]) -> tuple[list[int], list[frozenset[str]]]:
    """Disjoint segments [starts[i], starts[i+1]) labelled with the lists covering them."""
    changes: dict[int, list[tuple[str, int]]] = {}
    for start, end, name in intervals:
        changes.setdefault(start, []).append((name, 1))
        changes.setdefault(end, []).append((name, -1))
    covering: Counter[str] = Counter()
    starts: list[int] = []
    labels: list[frozenset[str]] = []
    for point in sorted(changes):
        for name, delta in changes[point]:
            covering[name] += delta
        label = frozenset(name for name, count in covering.items() if count > 0)
        if labels and labels[-1] == label:
            continue  # the same lists on both sides: one segment
        starts.append(point)
        labels.append(label)
    return starts, labels


def _read(source: Source, path: Path, origin: str) -> RangeList:
    created, networks = parse_range_file(path.read_bytes())
    if created is None:
        created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return RangeList(source, created, tuple(networks), origin, str(path))


def vendored_path(source: Source) -> Path:
    return Path(str(resources.files("ingest.crawlers") / "data" / "ranges" / f"{source.name}.json"))


def refreshed_path(data_dir: Path, source: Source) -> Path:
    return data_dir / "ranges" / f"{source.name}.json"


def load_lists(data_dir: Path | None) -> dict[str, RangeList]:
    """Each source's list: the refreshed copy when newer than the vendored one. A refreshed
    copy that cannot be read is logged and passed over; a source with neither is left out."""
    chosen: dict[str, RangeList] = {}
    for source in RANGE_SOURCES:
        candidates: list[RangeList] = []
        vendored = vendored_path(source)
        if vendored.is_file():
            candidates.append(_read(source, vendored, VENDORED))
        if data_dir is not None:
            refreshed = refreshed_path(data_dir, source)
            if refreshed.is_file():
                try:
                    candidates.append(_read(source, refreshed, REFRESHED))
                except (OSError, ValueError) as exc:
                    log.warning("crawler range list %s unusable (%s): not used", refreshed, exc)
        if candidates:
            chosen[source.name] = max(candidates, key=_freshness)
    return chosen


def _freshness(item: RangeList) -> tuple[datetime, int]:
    # A tie goes to the refreshed copy: it was fetched by this installation.
    return (item.created or datetime.min.replace(tzinfo=UTC), item.origin == REFRESHED)


def build_index(lists: Mapping[str, RangeList]) -> RangeIndex:
    return RangeIndex({name: item.networks for name, item in lists.items()})


class Loaded:
    """This process's index, loaded once (the collector's start installs it from the
    settings' data folder; anything else asking first, such as `optiview logs import`, gets
    the vendored lists and the folder OPTIVIEW_CRAWLER_DATA or the database names)."""

    index: RangeIndex | None = None
    published: frozenset[str] = NOWHERE  # names of the lists loaded


def install(data_dir: Path | None) -> RangeIndex:
    lists = load_lists(data_dir)
    Loaded.index = build_index(lists)
    Loaded.published = frozenset(lists)
    return Loaded.index


def current() -> RangeIndex:
    if Loaded.index is None:
        from ingest.config import crawler_data_location  # the settings import this package

        install(crawler_data_location())
    assert Loaded.index is not None
    return Loaded.index


def _bench() -> None:  # pragma: no cover - prints the figures quoted in the module docstring
    import time

    index = build_index(load_lists(None))
    for ip in ("20.171.206.9", "203.0.113.9", "2001:4860:4801:10::1", "::ffff:66.249.66.1"):
        runs, best = 50_000, float("inf")
        for _ in range(7):  # the best of 7, in CPU time: the least disturbed by other load
            started = time.process_time()
            for _ in range(runs):
                index.lists_containing(ip)
            best = min(best, (time.process_time() - started) / runs)
        print(f"{ip}: {best * 1e6:.2f} µs per lookup")


if __name__ == "__main__":  # pragma: no cover
    _bench()


__all__ = [
    "REFRESHED",
    "VENDORED",
    "RangeIndex",
    "RangeList",
    "build_index",
    "current",
    "install",
    "load_lists",
    "parse_range_file",
    "refreshed_path",
    "vendored_path",
]
