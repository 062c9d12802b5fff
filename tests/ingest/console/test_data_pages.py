"""The console's data pages over real HTTP from a real `optiview serve`: empty, and with a
hand-counted week of events (tests/ingest/console/seeding.py) whose figures the pages must show.

Times are checked in Asia/Kolkata (the browser's zone cookie): local days start at 18:30 UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.storage.sql import connect
from tests.conftest import INLINE_WRITER, Server, serving
from tests.ingest.console.pages import signed_in, tables
from tests.ingest.console.seeding import (
    CHROME_WINDOWS,
    RANGE,
    Project,
    create,
    local,
    seed_week,
    send,
)

KOLKATA = "Asia/Kolkata (UTC+05:30)"
DATA_PAGES = ("events", "content", "journeys", "referrals", "conversions")


@pytest.fixture(scope="module")
def projects(db_location: Path | str) -> tuple[Path | str, dict[str, Project]]:
    """The module's database (on each backend in turn) with three projects."""
    db = db_location
    full = create(db, "prj_full", sources=("chatgpt", "perplexity"))
    seed_week(db, full)
    quiet = create(db, "prj_quiet")  # one pageview, no AI source enabled, no conversion
    conn = connect(db)
    try:
        send(conn, quiet, local(2, 9), CHROME_WINDOWS, "GB", session="q1-session-dddddddd")
    finally:
        conn.close()
    empty = create(db, "prj_empty", sources=("chatgpt",))
    return db, {"full": full, "quiet": quiet, "empty": empty}


@pytest.fixture(scope="module")
def server(projects: tuple[Path | str, dict[str, Project]]) -> Iterator[Server]:
    yield from serving(projects[0], **INLINE_WRITER)


@pytest.fixture(scope="module")
def console(server: Server) -> Iterator[httpx.Client]:
    with signed_in(server.url, tz="Asia/Kolkata") as client:
        yield client


def get(client: httpx.Client, project: str, page: str, **params: str) -> str:
    answer = client.get(f"/console/projects/{project}/{page}", params={**RANGE, **params})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def main(html: str) -> str:
    return html.split("<main>", 1)[1].split("</main>", 1)[0]


def rows(html: str, key: str) -> list[list[str]]:
    return tables(html)[key][1:]


def as_counts(found: list[list[str]]) -> dict[str, int]:
    return {row[0]: int(row[1]) for row in found}


def day(n: int) -> str:
    return f"2026-03-0{n} 00:00:00 {KOLKATA}"


def test_events_counts_by_day_and_class_in_the_viewers_zone(console: httpx.Client):
    html = get(console, "prj_full", "events")
    assert rows(html, "series-table") == [
        [day(1), "3", "1", "0", "0"],
        [day(2), "2", "0", "1", "0"],  # 00:15 local on March 2 is 18:45 UTC on March 1
        [day(3), "2", "0", "0", "0"],
    ]
    tiles = dict(re.findall(r'data-class="(\w+)"><div class="n">([\d,]+)<', html))
    assert tiles == {"human": "7", "bot": "1", "ai_crawler": "1", "ai_agent": "0", "total": "9"}
    assert f"Showing <strong>{day(1)}</strong> to <strong>{day(4)}</strong>" in html
    assert "Left out by the traffic filter: Bots 1, AI crawlers 1." in html
    # the time chart draws the same numbers, stacked by class, with the zone under it
    assert re.findall(r'data-series="(\w+)" data-value="(\d+)"', html) == [
        ("human", "3"), ("bot", "1"), ("human", "2"), ("ai_crawler", "1"), ("human", "2"),
    ]  # fmt: skip
    assert f">Times in {KOLKATA}</text>" in html


def test_events_breakdowns_count_people_by_default(console: httpx.Client):
    html = get(console, "prj_full", "events")
    assert as_counts(rows(html, "breakdown-country")) == {"US": 5, "DE": 2}
    assert as_counts(rows(html, "breakdown-device")) == {"desktop": 5, "mobile": 2}
    assert as_counts(rows(html, "breakdown-browser")) == {
        "Chrome": 3, "Firefox": 2, "Mobile Safari": 2,
    }  # fmt: skip
    assert as_counts(rows(html, "breakdown-os")) == {"Windows": 3, "Linux": 2, "iOS": 2}
    everything = get(console, "prj_full", "events", **{"class": "all"})
    assert as_counts(rows(everything, "breakdown-country")) == {"US": 7, "DE": 2}
    assert as_counts(rows(everything, "breakdown-device")) == {"desktop": 5, "bot": 2, "mobile": 2}
    assert "Left out by the traffic filter" not in everything


def test_events_bucket_by_the_zone_chosen(server: Server):
    with signed_in(server.url) as utc:  # no zone cookie: UTC
        html = get(utc, "prj_full", "events")
    utc_day = "2026-03-0{} 00:00:00 UTC (UTC+00:00)"
    assert rows(html, "series-table") == [
        [utc_day.format(1), "5", "1", "0", "0"],  # s2's first two events are March 1 in UTC
        [utc_day.format(2), "0", "0", "1", "0"],
        [utc_day.format(3), "3", "0", "0", "0"],  # /late, 01:00 on March 4 in Kolkata
    ]


def test_events_hourly_buckets(console: httpx.Client):
    html = get(console, "prj_full", "events", interval="hour", to="2026-03-01")
    found = {row[0]: row[1:] for row in rows(html, "series-table") if row[1:] != ["0"] * 4}
    assert found == {
        f"2026-03-01 10:00:00 {KOLKATA}": ["3", "0", "0", "0"],
        f"2026-03-01 11:00:00 {KOLKATA}": ["0", "1", "0", "0"],
    }
    assert len(rows(html, "series-table")) == 24


def test_content_pages_with_types_and_ai_views(console: httpx.Client):
    html = get(console, "prj_full", "content")
    pages = {row[0].split()[0]: row[1:5] for row in rows(html, "pages")}
    assert pages == {
        "/": ["home", "1", "1", "0"],
        "/blog/a": ["blog", "1", "0", "1"],
        "/docs/x": ["docs", "1", "1", "0"],
        "/pricing": ["pricing", "1", "0", "0"],
    }
    first_seen = {row[0].split()[0]: row[5] for row in rows(html, "pages")}
    assert first_seen["/blog/a"] == f"2026-03-02 00:15:00 {KOLKATA}"
    by_type = {row[0]: row[1:] for row in rows(html, "content-types")}
    assert by_type["blog"] == ["1", "1", "0", "1"]
    assert by_type["product"] == ["0", "0", "0", "0"]
    assert 'href="https://prj-full.console-shop.com/docs/x?utm_source=perplexity.ai"' in html


def test_journeys_newest_first_with_steps_in_order(console: httpx.Client):
    html = get(console, "prj_full", "journeys")
    sessions = rows(html, "sessions")
    assert [row[1:4] for row in sessions] == [
        ["/docs/x", "perplexity", "People"],
        ["/blog/a", "none", "People"],
        ["/", "chatgpt", "People"],
    ]
    assert sessions[0][0] == f"2026-03-03 09:00:00 {KOLKATA} session s3-session-c"
    steps = re.findall(r'<li data-type="(\w+)">', html)
    assert steps == ["pageview", "conversion", "pageview", "click", "pageview", "pageview",
                     "conversion"]  # fmt: skip
    assert 'purchase <code>/docs/x</code> <span class="hint">09:30:00 UTC+05:30' in (
        " ".join(html.split())
    )


def test_journeys_page_through_with_limit(console: httpx.Client):
    html = get(console, "prj_full", "journeys", limit="2")
    assert [row[1] for row in rows(html, "sessions")] == ["/docs/x", "/blog/a"]
    (next_link,) = re.findall(r'href="([^"]+)" rel="next"', html)
    second = console.get(f"/console/projects/prj_full/journeys{next_link.replace('&amp;', '&')}")
    assert [row[1] for row in rows(second.text, "sessions")] == ["/"]
    assert 'rel="prev"' in second.text


def test_referrals_sources_over_time_and_landing_pages(console: httpx.Client):
    html = get(console, "prj_full", "referrals")
    assert [row[1] for row in rows(html, "table-0")] == ["1", "0", "1"]  # per day
    assert as_counts(rows(html, "by-source")) == {"chatgpt": 1, "perplexity": 1}
    assert as_counts(rows(html, "landings")) == {"/": 1, "/docs/x": 1}
    assert rows(html, "sources") == [["chatgpt", "1", "2", "1"], ["perplexity", "1", "1", "1"]]
    assert rows(html, "crawlers") == [["OpenAI", "GPTBot", "training", "1", "0"]]


def test_conversions_by_ai_source(console: httpx.Client):
    html = get(console, "prj_full", "conversions")
    assert [row[1] for row in rows(html, "table-0")] == ["1", "0", "1"]
    assert as_counts(rows(html, "by-source")) == {"chatgpt": 1, "perplexity": 1}
    assert as_counts(rows(html, "names")) == {"purchase": 1, "signup": 1}
    assert rows(html, "sources") == [
        ["chatgpt", "1", "1", "100.0"], ["perplexity", "1", "1", "100.0"],
    ]  # fmt: skip


@pytest.mark.parametrize("page", DATA_PAGES)
def test_every_time_shown_names_its_zone(console: httpx.Client, page: str):
    shown = main(get(console, "prj_full", page))
    zones = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( [\w/]+ \(UTC[+-]\d\d:\d\d\))?", shown)
    assert zones
    assert set(zones) == {f" {KOLKATA}"}


@pytest.mark.parametrize("page", DATA_PAGES)
def test_empty_project_says_install_the_tag(console: httpx.Client, page: str):
    html = get(console, "prj_empty", page)
    assert 'data-empty="tag"' in html
    assert 'href="/console/projects/prj_empty/install"' in html
    assert "No events yet" in html
    assert 'data-value="' not in html  # no bar drawn
    assert "No data in this range" in html or "No " in html


def test_nothing_in_the_range_says_widen_it(console: httpx.Client):
    html = get(console, "prj_full", "events", **{"from": "2026-01-01", "to": "2026-01-02"})
    assert 'data-empty="range"' in html
    assert "Last 30 days" in html


def test_referrals_without_sources_say_enable_one(console: httpx.Client):
    html = get(console, "prj_quiet", "referrals")
    assert 'data-empty="sources"' in html
    assert 'href="/console/projects/prj_quiet/sources"' in html


def test_conversions_empty_say_how_to_send_one(console: httpx.Client):
    html = get(console, "prj_quiet", "conversions")
    assert 'data-empty="conversions"' in html
    assert "optiview(&#39;conversion&#39;, &#39;signup&#39;" in html or (
        "optiview('conversion', 'signup'" in html
    )


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"from": "yesterday"}, "from:"),
        ({"class": "robots"}, "class:"),
        ({"interval": "week"}, "interval:"),
        ({"interval": "minute", "from": "2025-01-01"}, "interval:"),
        ({"limit": "0"}, "limit:"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "from:"),
    ],
)
def test_a_bad_value_is_a_400_page_naming_it(
    console: httpx.Client, params: dict[str, str], named: str
):
    answer = console.get("/console/projects/prj_full/events", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    (error,) = re.findall(r'id="range-error">([^<]+)<', answer.text)
    assert error.startswith(named)
    assert 'name="from"' in answer.text  # the form stays, to correct it


def test_another_projects_property_is_refused(console: httpx.Client, projects):
    other = projects[1]["quiet"].property_id
    answer = console.get("/console/projects/prj_full/events", params={"property_id": str(other)})
    assert answer.status_code == 404
    assert "has no property" in answer.text


def test_signed_out_goes_to_sign_in(server: Server):
    for page in DATA_PAGES:
        answer = httpx.get(f"{server.url}/console/projects/prj_full/{page}")
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/signin")
