"""How fast does the read API answer? Each stats endpoint over a large property, in process.

Generates `--events` events over `--days` days in one property with SQL (no HTTP): 200 paths,
30 countries, five browsers, ~5% bots and AI crawlers/agents, AI-referred landings, sessions
of four events and AI referrals consistent with the events. The rows go in one day per
transaction and the rollups are folded in each, with the collector writer's own fold. The
database is cached under loadtests/out/ keyed by the parameters, so reruns start at once.

Then it times each endpoint body (the functions the HTTP routes and the console call) for
the last 30 days and the last 24 hours, in UTC and Asia/Kolkata, `--repeat` times each, and
prints p50/p95 in ms.

`--console-load` measures instead the collector's p95 alone and while the console and the read
API are read in a loop, over HTTP on a copy of the database (loadtests/bench_console_load.py).

    python -m loadtests.bench_stats [--events 5000000] [--days 90] [--repeat 20]
    python -m loadtests.bench_stats --console-load [--events 1000000] [--phase-seconds 20]
        [--readers 2] [--connections 4] [--delay-ms 20] [--reader-process]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ingest.stats import counts, rollups
from ingest.stats.query import StatsQuery
from ingest.storage.connection import connect
from ingest.storage.migrations import migrate_database

OUT = Path(__file__).resolve().parent / "out"
DAY_MS = 86_400_000
END_MS = 1_780_000_000_000 - 1_780_000_000_000 % DAY_MS  # a fixed UTC midnight
PROJECT = "prj_bench"

COUNTRIES = "USDEGBFRINBRJPCAAUESITNLSEPLMXKRCHBEATIEDKNOFIPTNZSGZAARCLTRIL"  # 30, two letters each
# Deterministic spread: a multiplicative hash of the event number picks every value.
_H = "((n.i * 2654435761) % 4294967296)"
_EVENTS_OF_DAY = f"""
WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2),
h AS (SELECT i, {_H} AS h FROM n),
r AS (SELECT i, h,
    CASE WHEN h % 100 < 70 THEN 'pageview' WHEN h % 100 < 90 THEN 'click'
         WHEN h % 100 < 98 THEN 'custom' ELSE 'conversion' END AS type,
    CASE WHEN h / 100 % 100 < 3 THEN 'bot' WHEN h / 100 % 100 < 4 THEN 'ai_crawler'
         WHEN h / 100 % 100 < 5 THEN 'ai_agent' ELSE 'human' END AS cls,
    CASE h / 1000 % 10 WHEN 0 THEN '/' WHEN 1 THEN '/pricing'
         WHEN 2 THEN '/docs/page-' || (h / 13 % 40) WHEN 3 THEN '/docs/page-' || (h / 13 % 40)
         ELSE '/blog/post-' || (h / 13 % 158) END AS path,
    CASE WHEN i % 4 = 0 AND h / 10000 % 20 = 0
         THEN ('chatgpt', 'perplexity', 'claude', 'gemini')[0] END AS src
    FROM h)
INSERT INTO events (property_id, project_id, key_id, type, name, url, path, referrer,
    referrer_host, title, ai_source, ai_source_via, ua_class, crawler, crawler_kind, browser, os,
    device, country, user_agent, session_id, props, ts, received_at, off_site)
SELECT 1, '{PROJECT}', 'key_bench', type,
    CASE type WHEN 'conversion' THEN 'signup' WHEN 'custom' THEN 'video_play' END,
    'https://bench.example' || path, path,
    CASE WHEN src IS NOT NULL THEN 'https://' || src || '.example/' END,
    CASE WHEN src IS NOT NULL THEN src || '.example' WHEN h % 7 = 0 THEN 'google.com' END,
    'Page', src, CASE WHEN src IS NOT NULL THEN 'referrer' END, cls,
    CASE WHEN cls IN ('ai_crawler', 'ai_agent') THEN 'GPTBot' END,
    CASE cls WHEN 'ai_crawler' THEN 'training' WHEN 'ai_agent' THEN 'assistant' END,
    ('Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung')[0], 'Linux', 'desktop',
    substr('{COUNTRIES}', (h / 7 % 30) * 2 + 1, 2),
    'UA', 's' || (i / 4), NULL, ?3 + i * ?4 + h % ?4, ?3 + i * ?4 + h % ?4, 0
FROM r
"""


def _fix_choices(sql: str) -> str:
    """SQLite has no arrays: ('a', 'b')[0] picks by the hash instead."""
    sql = sql.replace(
        "('Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung')[0]",
        "CASE h / 31 % 5 WHEN 0 THEN 'Chrome' WHEN 1 THEN 'Safari' WHEN 2 THEN 'Firefox'"
        " WHEN 3 THEN 'Edge' ELSE 'Samsung' END",
    )
    return sql.replace(
        "('chatgpt', 'perplexity', 'claude', 'gemini')[0]",
        "CASE h / 37 % 4 WHEN 0 THEN 'chatgpt' WHEN 1 THEN 'perplexity' WHEN 2 THEN 'claude'"
        " ELSE 'gemini' END",
    )


EVENTS_OF_DAY = _fix_choices(_EVENTS_OF_DAY)
SESSIONS_OF = """INSERT INTO sessions (property_id, id, project_id, entry_url, entry_path, referrer,
    ai_source, ua_class, pageviews, events, started_at, last_seen_at)
    SELECT property_id, session_id, project_id, min(url), min(path), min(referrer),
        max(ai_source), min(ua_class), sum(type = 'pageview'), count(*), min(received_at),
        max(received_at)
    FROM events WHERE id > ? GROUP BY session_id"""
REFERRALS_OF = """INSERT INTO ai_referrals (property_id, project_id, session_id, ai_source, via,
    referrer, url, path, landed_at, ua_class)
    SELECT property_id, project_id, session_id, ai_source, 'referrer', referrer, url, path,
        received_at, ua_class FROM events
    WHERE id > ? AND type = 'pageview' AND ai_source IS NOT NULL"""


def build(path: Path, events: int, days: int, progress: Callable[[str], None] = print) -> None:
    migrate_database(path)
    conn = connect(path)
    conn.execute(
        "INSERT INTO orgs (id, name, domain, plan, created_at) VALUES"
        " ('org_bench', 'Bench', 'bench.example', 'starter', 0)"
    )
    conn.execute(
        "INSERT INTO projects (id, org_id, name, domain, description, created_at)"
        f" VALUES ('{PROJECT}', 'org_bench', 'Bench', 'bench.example', NULL, 0)"
    )
    conn.execute(
        "INSERT INTO properties (id, project_id, domain, type, active, is_default, created_at)"
        f" VALUES (1, '{PROJECT}', 'bench.example', 'website', 1, 1, 0)"
    )
    per_day = -(-events // days // 4) * 4  # whole sessions of four events in each day
    spacing = DAY_MS // per_day
    start = END_MS - days * DAY_MS
    started = time.perf_counter()
    for day in range(days):
        first = day * per_day
        conn.execute("BEGIN IMMEDIATE")
        after = rollups.last_ids(conn)
        conn.execute(EVENTS_OF_DAY, (first, first + per_day, start, spacing))
        conn.execute(SESSIONS_OF, (after[0],))
        conn.execute(REFERRALS_OF, (after[0],))
        rollups.fold(conn)  # the collector writer's own fold
        conn.execute("COMMIT")
        if day % 10 == 9:
            progress(f"  day {day + 1}/{days}, {time.perf_counter() - started:.0f} s")
    conn.execute("ANALYZE")
    conn.close()


def database(events: int, days: int) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"bench_stats_{events}_{days}.db"
    if not path.exists():
        print(f"generating {events} events over {days} days into {path}")
        partial = path.with_suffix(".partial")
        for leftover in OUT.glob(partial.name + "*"):
            leftover.unlink()
        build(partial, events, days)
        partial.rename(path)
    return path


def endpoints() -> dict[str, Callable[[sqlite3.Connection, StatsQuery], Any]]:
    """The endpoint bodies the routes call; counts alone for those not written yet."""
    calls: dict[str, Callable[[sqlite3.Connection, StatsQuery], Any]] = {}
    try:
        from ingest.stats.endpoints import ai, breakdown, content, journeys, timeseries

        calls["timeseries"] = lambda c, q: timeseries.answer(
            c, q, "events", "hour" if q.end_ms - q.start_ms <= DAY_MS else "day"
        )
        calls["breakdown path"] = lambda c, q: breakdown.answer(c, q, "path", "pageviews")
        calls["breakdown country"] = lambda c, q: breakdown.answer(c, q, "country", "events")
        calls["content"] = content.answer
        calls["journeys"] = journeys.answer
        calls["ai"] = ai.answer
    except ImportError:
        pass
    calls["counts.series"] = lambda c, q: counts.series(
        c, q.property_ids, list(range(q.start_ms, q.end_ms + 1, 3_600_000)), "events", "human"
    )
    calls["counts.breakdown"] = lambda c, q: counts.breakdown(
        c, q.property_ids, q.start_ms, q.end_ms, "path", "pageviews", "human"
    )
    return calls


def local_midnight(ms: int, tz: ZoneInfo) -> int:
    from datetime import datetime

    local = datetime.fromtimestamp(ms / 1000, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(local.timestamp() * 1000)


def measure(path: Path, repeat: int) -> list[dict[str, Any]]:
    conn = connect(path)
    results = []
    for zone in ("UTC", "Asia/Kolkata"):
        tz = ZoneInfo(zone)
        end = local_midnight(END_MS, tz)
        for label, span in (("30 days", 30 * DAY_MS), ("24 hours", DAY_MS)):
            q = StatsQuery(PROJECT, (1,), end - span, end, tz, "human")
            for name, call in endpoints().items():
                times = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    call(conn, q)
                    times.append((time.perf_counter() - started) * 1000)
                times.sort()
                results.append({
                    "endpoint": name, "range": label, "tz": zone,
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
                })  # fmt: skip
    conn.close()
    return results


def console_load(args: argparse.Namespace) -> int:
    from loadtests import bench_console_load

    path = database(args.events or 1_000_000, args.days)
    result = bench_console_load.measure(
        path,
        PROJECT,
        END_MS,
        phase_seconds=args.phase_seconds,
        warmup=args.warmup,
        connections=args.connections,
        delay_ms=args.delay_ms,
        readers=args.readers,
        reader_process=args.reader_process,
        reader_pause_ms=args.reader_pause_ms,
        cache=not args.no_cache,
    )
    report = bench_console_load.markdown(result)
    (OUT / "bench-stats-console.md").write_text(report)
    data = bench_console_load.as_json(result)
    (OUT / "bench-stats-console.json").write_text(json.dumps(data, indent=2))
    print(json.dumps(data, indent=2) if args.json else report)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, help="default 5M; 1M with --console-load")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--console-load", action="store_true", help="the collector's p95 under console reads"
    )
    parser.add_argument("--phase-seconds", type=int, default=20, help="with --console-load")
    parser.add_argument("--warmup", type=int, default=3, help="with --console-load")
    parser.add_argument("--readers", type=int, default=2, help="with --console-load")
    parser.add_argument("--connections", type=int, default=4, help="with --console-load")
    parser.add_argument("--delay-ms", type=int, default=20, help="with --console-load")
    parser.add_argument(
        "--reader-process",
        action="store_true",
        help="with --console-load: the readers read from a second serving process at nice 19",
    )
    parser.add_argument(
        "--reader-pause-ms",
        type=int,
        default=250,
        help="with --console-load: each reader's pause after a page, as a refreshing dashboard"
        " (default 250; 0: back to back)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="with --console-load: OPTIVIEW_STATS_CACHE_MS=0, every answer computed",
    )
    args = parser.parse_args(argv)
    if args.console_load:
        return console_load(args)
    path = database(args.events or 5_000_000, args.days)
    results = measure(path, args.repeat)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'endpoint':20} {'range':9} {'tz':13} {'p50 ms':>8} {'p95 ms':>8}")
    for r in results:
        print(f"{r['endpoint']:20} {r['range']:9} {r['tz']:13} {r['p50_ms']:8} {r['p95_ms']:8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
