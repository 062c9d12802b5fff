"""Dashboard answers are reused for OPTIVIEW_STATS_CACHE_MS, per database and question, so a
page read in a loop costs the collector's machine one computation per few seconds.

SQLite only: the cache lives in each process, before any database is asked (the answers it
keeps are the ones test_api_timeseries.py and test_data_pages.py check on both backends)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.stats.cache import AnswerCache, answers_for
from tests.conftest import ADMIN_TOKEN, Server, serving
from tests.ingest.collect.conftest import Site, provision
from tests.ingest.console.helpers import sign_in
from tests.ingest.stats.test_api_timeseries import AUTH, send_at, stats

RANGE = {"from": "2026-11-30", "to": "2026-11-30", "tz": "UTC"}


@pytest.fixture(scope="module")
def caching(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db: Path = tmp_path_factory.mktemp("answer-cache") / "optiview.db"
    yield from serving(db, OPTIVIEW_STATS_CACHE_MS="60000")


@pytest.fixture(scope="module")
def site(caching: Server) -> Site:
    with httpx.Client(base_url=caching.url + "/api/admin", headers=AUTH, timeout=10) as admin:
        return provision(caching, admin)


def total(site: Site, **params: str) -> int:
    return sum(point["value"] for point in stats(site, "timeseries", **params)["series"])


def test_the_same_question_is_answered_from_the_cache(site: Site) -> None:
    send_at(site, "2026-11-30T10:00:00+00:00")
    assert total(site, **RANGE) == 1
    send_at(site, "2026-11-30T11:00:00+00:00")
    assert total(site, **RANGE) == 1  # the answer of a minute ago (TTL 60 s)
    assert total(site, **RANGE, interval="hour") == 2  # another question: computed now


def test_console_pages_share_the_cache_without_changing_it(site: Site) -> None:
    with httpx.Client(base_url=site.server.url, timeout=10) as browser:
        assert sign_in(browser, ADMIN_TOKEN).status_code in (200, 303)
        page = f"/console/projects/{site.project_id}/events"
        first = browser.get(page, params=RANGE)
        send_at(site, "2026-11-30T12:00:00+00:00")
        again = browser.get(page, params=RANGE)
    assert first.status_code == again.status_code == 200
    assert "2026-11-30" in first.text
    # The same figures (the range links carry the time of the request, nothing else differs)
    assert now_links(first.text) == now_links(again.text)


def now_links(html: str) -> str:
    return re.sub(r"\d\d%3A\d\d%3A\d\d\.\d+", "", html)


def test_a_zero_ttl_computes_every_time() -> None:
    cache = AnswerCache(0)
    calls: list[int] = []
    for _ in range(3):
        cache.get_or_compute("q", lambda: calls.append(1) or len(calls))
    assert len(calls) == 3


def test_each_database_has_its_own_answers() -> None:
    one, other = answers_for("/a.db", 5000), answers_for("/b.db", 5000)
    assert one is not other and one is answers_for("/a.db", 5000)
    assert one.get_or_compute("q", lambda: "a") == "a"
    assert other.get_or_compute("q", lambda: "b") == "b"
