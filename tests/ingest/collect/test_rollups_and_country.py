"""What the alert rules and dashboards read, written by real traffic: per-minute rollups of
every collector answer, and the country from a trusted CDN header when one is configured."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, serving
from tests.ingest.collect.conftest import Site, provision_on


@pytest.fixture(scope="module")
def cdn_server(db_location: Path | str) -> Iterator[Server]:
    # The module's own database on each backend (`site` is on the shared server of the backend).
    yield from serving(db_location, OPTIVIEW_COUNTRY_HEADER="CF-IPCountry")


@pytest.fixture
def cdn_site(cdn_server: Server) -> Site:
    return provision_on(cdn_server)


def totals(site: Site) -> tuple[int, int, int, int]:
    (row,) = site.rows(
        "SELECT coalesce(sum(requests), 0), coalesce(sum(errors), 0), coalesce(sum(events), 0),"
        " coalesce(sum(le_1 + le_2_5 + le_5 + le_10 + le_25 + le_50 + le_100 + le_150 + le_200"
        " + le_250 + le_300 + le_500 + le_1000 + le_2500 + le_5000 + le_10000 + le_inf), 0)"
        " FROM request_rollups"
    )
    return row


def test_every_answer_is_rolled_up_per_minute(cdn_site: Site):
    before = totals(cdn_site)
    answers = [
        cdn_site.send(cdn_site.pageview("/a"), cdn_site.pageview("/b")),
        cdn_site.send(),
        cdn_site.send(origin="https://evil.com"),
        cdn_site.send(body=b"nope"),
    ]
    assert [a.status_code for a in answers] == [202, 202, 403, 400]
    deadline = time.monotonic() + 5  # counts ride along with the next commit, at most ~1 s later
    while totals(cdn_site)[0] < before[0] + 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    after = totals(cdn_site)
    requests, errors, events, bucketed = (a - b for a, b in zip(after, before, strict=True))
    assert (requests, errors, events, bucketed) == (4, 2, 3, 4)
    minutes = cdn_site.rows("SELECT minute FROM request_rollups")
    assert all(minute % 60_000 == 0 for (minute,) in minutes)


@pytest.mark.parametrize(
    ("header", "stored"),
    [("DE", "DE"), ("us", "US"), ("XX", None), ("T1", None), ("Germany", None), (None, None)],
)
def test_country_comes_from_the_trusted_header(
    cdn_site: Site, header: str | None, stored: str | None
):
    headers = {"CF-IPCountry": header} if header is not None else {}
    assert cdn_site.send(headers=headers).status_code == 202
    assert cdn_site.events("country") == [(stored,)]


def test_country_header_is_ignored_unless_configured(site: Site):
    assert site.send(headers={"CF-IPCountry": "DE"}).status_code == 202
    assert site.events("country") == [(None,)]
