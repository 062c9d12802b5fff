"""How long deleting a big property holds the write lock.

Seeds a fresh database with one partner whose property has N events (and a session, a content
row and an AI referral per 100 events) beside a second partner of the same size, then times
`provisioning_changes.remove` inside one BEGIN IMMEDIATE, as the admin API and the CLI run it,
and the dry-run count that a DELETE without ?confirm answers.

    python -m loadtests.bench_removal [--events 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ingest.provisioning_changes import count_rows, remove
from ingest.storage.connection import connect
from ingest.storage.migrations import migrate_database

DAY_MS = 86_400_000


def seed(db: Path, events: int) -> tuple[int, int]:
    conn = connect(db)
    conn.execute("BEGIN")
    props = []
    for org in ("org_a", "org_b"):
        conn.execute(
            "INSERT INTO orgs (id, name, domain, plan, created_at) VALUES (?, ?, ?, 'pro', 0)",
            (org, org, f"{org}.com"),
        )
        conn.execute(
            "INSERT INTO projects (id, org_id, name, domain, created_at) VALUES (?, ?, 'M', ?, 0)",
            (f"prj_{org}", org, f"{org}.com"),
        )
        cursor = conn.execute(
            "INSERT INTO properties (project_id, domain, type, created_at)"
            " VALUES (?, ?, 'website', 0)",
            (f"prj_{org}", f"{org}.com"),
        )
        prop = cursor.lastrowid
        assert prop is not None
        props.append(prop)
        conn.executemany(
            "INSERT INTO events (property_id, project_id, key_id, type, url, path, ua_class,"
            " session_id, ts, received_at) VALUES (?, ?, 'key_x', 'pageview', ?, ?, 'human',"
            " ?, ?, ?)",
            (
                (prop, f"prj_{org}", f"https://{org}.com/p{i % 500}", f"/p{i % 500}",
                 f"s{i // 100}", i * 1000, i * 1000)
                for i in range(events)
            ),
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO sessions (property_id, id, project_id, ua_class, started_at,"
            " last_seen_at) VALUES (?, ?, ?, 'human', 0, 0)",
            ((prop, f"s{i}", f"prj_{org}") for i in range(events // 100)),
        )
        conn.executemany(
            "INSERT INTO ai_referrals (property_id, project_id, ai_source, via, landed_at)"
            " VALUES (?, ?, 'chatgpt', 'referrer', 0)",
            ((prop, f"prj_{org}") for _ in range(events // 100)),
        )
        conn.executemany(
            "INSERT INTO content (property_id, path, project_id, content_type, first_seen_at,"
            " last_seen_at) VALUES (?, ?, ?, 'other', 0, 0)",
            ((prop, f"/p{i}", f"prj_{org}") for i in range(500)),
        )
    conn.execute("COMMIT")
    conn.close()
    return props[0], props[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per property")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "optiview.db"
        migrate_database(db)
        prop, _ = seed(db, args.events)
        conn = connect(db)
        started = time.perf_counter()
        would = count_rows(conn, "property", prop)
        counted = time.perf_counter() - started
        conn.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        removal = remove(conn, "property", prop)
        conn.execute("COMMIT")
        held = time.perf_counter() - started
        assert removal.rows == would.rows
        print(f"dry-run count: {counted * 1000:.0f} ms ({would.summary()})")
        total = removal.to_json()["total"]
        per_event = held * 1e6 / max(1, removal.rows["events"])
        print(f"delete, write lock held: {held * 1000:.0f} ms for {total} rows")
        print(f"({per_event:.1f} us per event)")


if __name__ == "__main__":
    main()
