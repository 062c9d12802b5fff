"""A group commit's session and content rows merged per key, before they are upserted (pure).

Many events of one group share a session or a page; upserting each of them costs a B-tree
lookup and a row rewrite per event. Merged first, each key costs one. Both backends use this:
PostgreSQL must (its ON CONFLICT DO UPDATE cannot touch one row twice in one statement), SQLite
for the speed.

Merging a later row into an earlier one follows the upsert's rules with the earlier row as the
stored one, so applying the merged row to a stored row gives what applying the rows one by one
gives: coalesce, sums, min and max are associative, the landing's referrer and AI source are
taken from the first row that had an entry path, a content row's URL is the last one given and
its title the last one given that was not NULL. Keys go out in sorted order: two PostgreSQL
nodes writing the same keys lock them in one order, and SQLite walks its index forward.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Row = tuple[Any, ...]


def merge_sessions(rows: Iterable[Row]) -> list[Row]:
    """prepare's session rows, one per (property_id, id), in key order, with the number of
    rows merged added as the upsert's `events` column (before started_at)."""
    merged: dict[tuple[Any, Any], list[Any]] = {}
    for row in rows:
        (property_id, session_id, _project, entry_url, entry_path, referrer, ai_source,
         _ua_class, pageviews, started_at, last_seen_at) = row  # fmt: skip
        key = (property_id, session_id)
        held = merged.get(key)
        if held is None:
            merged[key] = [*row[:8], int(pageviews), 1, started_at, last_seen_at]
            continue
        if held[4] is None:  # no landing yet: this row's referrer and AI source are taken
            held[5], held[6] = referrer, ai_source
        if held[3] is None:
            held[3] = entry_url
        if held[4] is None:
            held[4] = entry_path
        held[8] += int(pageviews)
        held[9] += 1
        if started_at < held[10]:
            held[10] = started_at
        if last_seen_at > held[11]:
            held[11] = last_seen_at
    return [tuple(merged[key]) for key in sorted(merged)]


def merge_content(rows: Iterable[Row]) -> list[Row]:
    """prepare's content rows, one per (property_id, path), in key order: the last URL, the
    last title given, the counts summed, the first first_seen_at, the latest last_seen_at."""
    merged: dict[tuple[Any, Any], list[Any]] = {}
    for row in rows:
        (property_id, path, _project, url, title, _content_type, views, ai_views,
         crawler_views, _first_seen_at, last_seen_at) = row  # fmt: skip
        key = (property_id, path)
        held = merged.get(key)
        if held is None:
            merged[key] = [*row[:6], int(views), int(ai_views), int(crawler_views), *row[9:]]
            continue
        held[3] = url
        if title is not None:
            held[4] = title
        held[6] += int(views)
        held[7] += int(ai_views)
        held[8] += int(crawler_views)
        if last_seen_at > held[10]:
            held[10] = last_seen_at
    return [tuple(merged[key]) for key in sorted(merged)]
