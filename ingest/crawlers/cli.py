"""`optiview crawlers refresh [--only NAME...] [--base-url URL]` and `optiview crawlers status`.

Both read only OPTIVIEW_CRAWLER_DATA (or the database setting it defaults beside), never the
database itself: they run on a host with no service configured as well.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# `optiview` registers these commands on every call: the sources (with the classifiers they
# load), httpx and the settings are imported only when one of them runs, and the refresh
# parser, whose choices are the sources' names, is filled in only then too.
if TYPE_CHECKING:
    from ingest.crawlers.refresh import Outcome

EXIT_FAILURE = 1

REFRESH_HELP = (
    "Fetch every operator's published crawler IP range list and Web Bot Auth key directory"
    " (or those named with --only) into the data folder. Each download is checked before it"
    " replaces the previous copy; a source that fails keeps its old copy. The service reads"
    " the folder when it starts: restart it to use what was fetched."
)


def register(sub: Any) -> None:
    """Add `crawlers refresh|status` to the optiview command."""
    group = sub.add_parser(
        "crawlers", help="crawler verification data: refresh the published lists, show ages"
    )
    actions = group.add_subparsers(dest="action", required=True, metavar="{refresh,status}")
    actions.add_parser(
        "refresh",
        help="fetch the operators' current lists",
        description=REFRESH_HELP,
        populate=_refresh_arguments,
    )
    show = actions.add_parser("status", help="each list's source, size, date and age")
    show.add_argument("--data-dir", type=Path, help="instead of OPTIVIEW_CRAWLER_DATA")
    show.add_argument("--json", action="store_true", help="one JSON document instead of a table")


def _refresh_arguments(fetch: argparse.ArgumentParser) -> None:
    from ingest.crawlers.refresh import SOURCES_BY_NAME, TIMEOUT_S

    fetch.add_argument(
        "--only",
        nargs="+",
        choices=sorted(SOURCES_BY_NAME),
        metavar="NAME",
        help=f"only these sources (any of: {', '.join(sorted(SOURCES_BY_NAME))})",
    )
    fetch.add_argument(
        "--base-url",
        metavar="URL",
        help="fetch each source from URL/<its host>/<its path> instead (a mirror; tests)",
    )
    fetch.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per source")
    fetch.add_argument("--data-dir", type=Path, help="instead of OPTIVIEW_CRAWLER_DATA")


def _data_dir(args: argparse.Namespace) -> Path:
    from ingest.config import crawler_data_location

    return args.data_dir if args.data_dir is not None else crawler_data_location()


def _progress(outcome: Outcome) -> None:
    name = outcome.source.name
    if outcome.error is None:
        print(f"crawlers: {name}: saved {outcome.detail} to {outcome.path}", file=sys.stderr)
    else:
        print(f"crawlers: {name}: FAILED, previous copy kept: {outcome.error}", file=sys.stderr)


def _refresh(args: argparse.Namespace) -> int:
    from ingest.crawlers.refresh import SOURCES, SOURCES_BY_NAME, refresh

    data_dir = _data_dir(args)
    chosen = [SOURCES_BY_NAME[name] for name in args.only] if args.only else list(SOURCES)
    print(f"crawlers: refreshing {len(chosen)} sources into {data_dir}", file=sys.stderr)
    outcomes = refresh(
        data_dir, chosen, base_url=args.base_url, progress=_progress, timeout_s=args.timeout
    )
    failed = [o.source.name for o in outcomes if o.error is not None]
    print(
        f"crawlers: {len(outcomes) - len(failed)} of {len(outcomes)} refreshed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
        + ". Restart the service to use them.",
        file=sys.stderr,
    )
    return EXIT_FAILURE if failed else 0


def _age(days: float | None) -> str:
    if days is None:
        return "-"
    return f"{days * 24:.0f} h" if days < 2 else f"{days:.0f} d"


def _status(args: argparse.Namespace) -> int:
    import json

    from ingest.crawlers.status import statuses

    now = datetime.now(UTC)
    rows = statuses(_data_dir(args))
    if args.json:
        doc = [
            {
                "name": row.source.name,
                "operator": row.source.operator,
                "kind": row.source.kind,
                "url": row.source.url,
                "copy": row.origin,
                "entries": row.entries,
                "created": row.created.isoformat() if row.created else None,
                "age_days": None if (age := row.age_days(now)) is None else round(age, 2),
                "path": row.path,
            }
            for row in rows
        ]
        print(json.dumps(doc, indent=2))
        return 0
    header = ("source", "operator", "kind", "copy", "entries", "created", "age", "url")
    table = [header] + [
        (
            row.source.name,
            row.source.operator,
            row.source.kind,
            row.origin or "missing",
            str(row.entries),
            row.created.strftime("%Y-%m-%d %H:%M") if row.created else "-",
            _age(row.age_days(now)),
            row.source.url,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)]
        print("  ".join([*cells, line[-1]]))
    return 0


def run(args: argparse.Namespace) -> int:
    from ingest.config import ConfigError

    try:
        if args.action == "refresh":
            return _refresh(args)
        return _status(args)
    except ConfigError as exc:
        print(f"optiview: {exc}", file=sys.stderr)
        return EXIT_FAILURE


__all__ = ["register", "run"]
