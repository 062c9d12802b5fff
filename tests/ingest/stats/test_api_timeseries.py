"""The read API over real HTTP, on events sent through the collector: local buckets in a
half-hour zone and on a daylight-saving day (hand-counted), the class filter and what it
left out, the property filter, breakdown paging, and every bad parameter named."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Server
from tests.ingest.collect.conftest import GPTBOT, Site, provision

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def stats(site: Site, endpoint: str, **params: str) -> dict[str, Any]:
    answer = get(site, endpoint, **params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def get(site: Site, endpoint: str, **params: str) -> httpx.Response:
    url = f"{site.server.url}/api/v1/projects/{site.project_id}/stats/{endpoint}"
    return httpx.get(url, params=params, headers=AUTH, timeout=10)


def values(body: dict[str, Any]) -> list[int]:
    return [point["value"] for point in body["series"]]


def send_at(site: Site, *times: str, **fields: Any) -> None:
    path = fields.pop("path", "/")
    events = [site.pageview(path, ts=ms(t), **fields) for t in times]
    assert site.send(*events).status_code == 202


@pytest.fixture(scope="module")
def kolkata(server: Server) -> Site:
    with httpx.Client(base_url=server.url + "/api/admin", headers=AUTH, timeout=10) as admin:
        site = provision(server, admin)
    send_at(
        site,
        "2026-11-29T18:29:59+00:00",  # 23:59:59 on the 29th in Kolkata
        "2026-11-29T18:30:00+00:00",  # midnight starting the 30th
        "2026-11-30T05:00:00+00:00",  # 10:30
        "2026-11-30T18:30:00+00:00",  # midnight starting December 1st
    )
    click = {"type": "click", "url": f"{site.origin}/", "ts": ms("2026-11-30T18:29:00+00:00")}
    assert site.send(click).status_code == 202  # 23:59 on the 30th
    bot = site.pageview("/", ts=ms("2026-11-30T06:00:00+00:00"))
    assert site.send(bot, headers={"User-Agent": GPTBOT}).status_code == 202
    return site


def test_days_in_a_half_hour_zone(kolkata: Site) -> None:
    body = stats(
        kolkata, "timeseries", tz="Asia/Kolkata", **{"from": "2026-11-29", "to": "2026-12-01"}
    )
    assert body["series"] == [
        {"t": "2026-11-29T00:00:00+05:30", "value": 1},
        {"t": "2026-11-30T00:00:00+05:30", "value": 3},
        {"t": "2026-12-01T00:00:00+05:30", "value": 1},
    ]
    assert body["interval"] == "day" and body["metric"] == "events"
    meta = body["meta"]
    assert (meta["tz"], meta["from"], meta["to"]) == (
        "Asia/Kolkata",
        "2026-11-29T00:00:00+05:30",
        "2026-12-02T00:00:00+05:30",
    )
    # Human by default: the GPTBot hit is left out, and said so.
    assert meta["excluded"] == {"bot": 0, "ai_crawler": 1, "ai_agent": 0}
    assert meta["data_through"].endswith("+05:30")
    # The same events by UTC days.
    utc = stats(kolkata, "timeseries", **{"from": "2026-11-29", "to": "2026-12-01"})
    assert values(utc) == [2, 3, 0]


def test_hours_in_a_half_hour_zone_are_zero_filled(kolkata: Site) -> None:
    body = stats(
        kolkata,
        "timeseries",
        tz="Asia/Kolkata",
        interval="hour",
        **{"from": "2026-11-30", "to": "2026-11-30"},
    )
    assert len(body["series"]) == 24
    assert body["series"][10] == {"t": "2026-11-30T10:00:00+05:30", "value": 1}
    assert [i for i, v in enumerate(values(body)) if v] == [0, 10, 23]
    pageviews = stats(
        kolkata,
        "timeseries",
        tz="Asia/Kolkata",
        metric="pageviews",
        interval="day",
        **{"from": "2026-11-30", "to": "2026-11-30"},
    )
    assert values(pageviews) == [2]  # the click is an event, not a pageview


def test_class_filter(kolkata: Site) -> None:
    day = {"from": "2026-11-30", "to": "2026-11-30", "tz": "Asia/Kolkata", "interval": "day"}
    crawlers = stats(kolkata, "timeseries", **day, **{"class": "ai_crawler"})
    assert values(crawlers) == [1]
    assert crawlers["meta"]["excluded"] == {"human": 3, "bot": 0, "ai_agent": 0}
    every = stats(kolkata, "timeseries", **day, **{"class": "all"})
    assert values(every) == [4] and every["meta"]["excluded"] == {}


def test_a_daylight_saving_day_in_berlin(server: Server) -> None:
    with httpx.Client(base_url=server.url + "/api/admin", headers=AUTH, timeout=10) as admin:
        site = provision(server, admin)
    send_at(
        site,
        "2026-10-24T23:59:00+02:00",  # the day before
        "2026-10-25T02:30:00+02:00",  # the first 02:30
        "2026-10-25T02:30:00+01:00",  # the second 02:30, an hour later
        "2026-10-25T23:59:00+01:00",
    )
    day = {"from": "2026-10-25", "to": "2026-10-25", "tz": "Europe/Berlin"}
    hours = stats(site, "timeseries", interval="hour", **day)
    assert len(hours["series"]) == 25
    assert [p["t"] for p in hours["series"][2:4]] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
    ]
    assert [i for i, v in enumerate(values(hours)) if v] == [2, 3, 24]
    days = stats(
        site,
        "timeseries",
        tz="Europe/Berlin",
        **{"from": "2026-10-24", "to": "2026-10-26"},
    )
    assert [p["t"] for p in days["series"]] == [
        "2026-10-24T00:00:00+02:00",
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
    ]
    assert values(days) == [1, 3, 0]


def test_property_filter_and_breakdown_paging(server: Server) -> None:
    with httpx.Client(base_url=server.url + "/api/admin", headers=AUTH, timeout=10) as admin:
        site = provision(server, admin)
        blog = admin.post(
            f"/projects/{site.project_id}/properties", json={"domain": f"blog.{site.domain}"}
        ).json()
        other = provision(server, admin)
    at = "2026-11-20T12:00:00+00:00"
    for path, times in (("/a", 3), ("/b", 2), ("/c", 1)):
        send_at(site, *[at] * times, path=path)
    with httpx.Client(base_url=server.url + "/api/admin", headers=AUTH, timeout=10) as admin:
        key = admin.post(f"/properties/{blog['id']}/keys", json={"name": "Blog"}).json()
    blog_site = Site(
        server, admin, f"blog.{site.domain}", site.project_id, blog["id"], key["id"], key["secret"]
    )
    send_at(blog_site, at, path="/post")
    day = {"from": "2026-11-20", "to": "2026-11-20", "interval": "day"}
    assert values(stats(site, "timeseries", **day)) == [7]
    only_blog = stats(site, "timeseries", property_id=str(blog["id"]), **day)
    assert values(only_blog) == [1] and only_blog["meta"]["property_ids"] == [blog["id"]]
    answer = get(site, "timeseries", property_id=str(other.property_id), **day)
    assert answer.status_code == 404 and answer.json()["detail"].startswith("property_id: ")

    rows = stats(site, "breakdown", dimension="path", metric="pageviews", **day)
    assert rows["rows"] == [
        {"value": "/a", "count": 3},
        {"value": "/b", "count": 2},
        {"value": "/c", "count": 1},
        {"value": "/post", "count": 1},
    ]
    page = stats(site, "breakdown", dimension="path", limit="2", offset="1", **day)
    assert page["rows"] == [{"value": "/b", "count": 2}, {"value": "/c", "count": 1}]
    assert page["total_rows"] == 4


@pytest.mark.parametrize(
    ("endpoint", "params", "named"),
    [
        ("timeseries", {"tz": "Mars/Base"}, "tz"),
        ("timeseries", {"from": "last week"}, "from"),
        ("timeseries", {"to": "2026-13-01"}, "to"),
        ("timeseries", {"from": "2026-11-30", "to": "2026-11-29"}, "from"),
        ("timeseries", {"class": "robots"}, "class"),
        ("timeseries", {"property_id": "-3"}, "property_id"),
        ("timeseries", {"limit": "0"}, "limit"),
        ("timeseries", {"offset": "x"}, "offset"),
        ("timeseries", {"metric": "visits"}, "metric"),
        ("timeseries", {"interval": "week"}, "interval"),
        (
            "timeseries",
            {"interval": "minute", "from": "2026-08-01", "to": "2026-11-01"},
            "interval",
        ),
        ("breakdown", {}, "dimension"),
        ("breakdown", {"dimension": "country", "metric": "sessions"}, "dimension"),
        ("content", {"tz": "Mars/Base"}, "tz"),
        ("journeys", {"limit": "1001"}, "limit"),
        ("ai", {"class": "martian"}, "class"),
    ],
)
def test_every_bad_parameter_is_a_400_naming_it(
    kolkata: Site, endpoint: str, params: dict[str, str], named: str
) -> None:
    answer = get(kolkata, endpoint, **params)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "invalid_field" and body["detail"].startswith(f"{named}: "), body


def test_tz_names_the_zone_refused(kolkata: Site) -> None:
    detail = get(kolkata, "timeseries", tz="Mars/Base").json()["detail"]
    assert detail.startswith("tz: 'Mars/Base' is not an IANA time zone")
