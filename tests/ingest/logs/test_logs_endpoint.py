"""POST /v1/logs against a real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import start_server
from tests.ingest.collect.conftest import CHROME, GPTBOT, Site, provision_on
from tests.ingest.logs.conftest import (
    CHATGPT_USER,
    CHATGPT_USER_IP,
    CLAUDEBOT,
    GPTBOT_IP,
    cloudflare_line,
)


def post_logs(
    site: Site,
    body: bytes,
    *,
    fmt: str = "cloudflare",
    headers: dict[str, str] | None = None,
    **params: str,
) -> httpx.Response:
    query = {
        "key_id": site.key_id,
        "project_id": site.project_id,
        "property_id": str(site.property_id),
        "format": fmt,
        **params,
    }
    sent = {"Authorization": f"Bearer {site.secret}", "Content-Type": "application/x-ndjson"}
    sent.update(headers or {})
    return httpx.post(
        site.server.url + "/v1/logs", content=body, params=query, headers=sent, timeout=10
    )


def cloudflare_batch(site: Site) -> bytes:
    lines = [
        cloudflare_line(site.domain, "/pricing?plan=pro", GPTBOT, ClientIP=GPTBOT_IP),
        cloudflare_line(f"www.{site.domain}", "/robots.txt", CLAUDEBOT, EdgeResponseStatus=404),
        cloudflare_line(
            site.domain,
            "/docs/intro",
            CHATGPT_USER,
            EdgeStartTimestamp=1764583260,
            ClientIP=CHATGPT_USER_IP,
        ),
        cloudflare_line(site.domain, "/blog/x", GPTBOT),  # not from OpenAI's ranges
        cloudflare_line(site.domain, "/", CHROME),  # a person: the tag counts them
        cloudflare_line("other.example", "/", GPTBOT),
        cloudflare_line(site.domain, "/app.js", GPTBOT),
        cloudflare_line(site.domain, "/login", GPTBOT, ClientRequestMethod="POST"),
        b"not json at all",
    ]
    return b"\n".join(lines) + b"\n"


EXPECTED_SKIPPED = {
    "human": 1,
    "not_this_host": 1,
    "asset": 1,
    "not_get": 1,
    "unparseable": 1,
}
EXPECTED_ROWS = [
    ("/pricing", "ai_crawler", "GPTBot", "ip_range", "log"),
    ("/robots.txt", "ai_crawler", "ClaudeBot", "none", "log"),  # Anthropic publishes no ranges
    ("/docs/intro", "ai_agent", "ChatGPT-User", "ip_range", "log"),
    ("/blog/x", "bot", "GPTBot", "failed", "log"),  # a failed claim: a bot, the claim kept
]


def stored(site: Site) -> list[tuple[Any, ...]]:
    return site.events("path, ua_class, crawler, crawler_verified, hit_source")


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_cloudflare_batch_lands_with_its_classes(site: Site, compress: bool) -> None:
    body = cloudflare_batch(site)
    headers = {"Content-Encoding": "gzip"} if compress else {}
    answer = post_logs(site, gzip.compress(body) if compress else body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 4, "skipped": EXPECTED_SKIPPED}
    assert stored(site) == EXPECTED_ROWS
    (ts, url, digest), *_ = site.rows(
        "SELECT ts, url, log_digest FROM events WHERE property_id = ? ORDER BY id",
        site.property_id,
    )
    assert ts == 1_764_583_200_000
    assert url == f"https://{site.domain}/pricing?plan=pro"
    assert len(digest) == 32


def test_the_same_lines_again_add_nothing(site: Site) -> None:
    body = cloudflare_batch(site)
    assert post_logs(site, body).json()["accepted"] == 4
    again = post_logs(site, body)
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "skipped": {**EXPECTED_SKIPPED, "duplicate": 4}}
    assert stored(site) == EXPECTED_ROWS


def test_humans_are_stored_when_asked(site: Site) -> None:
    body = cloudflare_line(site.domain, "/", CHROME)
    answer = post_logs(site, body, humans="1")
    assert answer.json() == {"accepted": 1, "skipped": {}}
    assert stored(site) == [("/", "human", None, None, "log")]


def test_a_pageview_the_tag_has_is_not_counted_twice(site: Site) -> None:
    tag = site.send(site.pageview("/pricing", ts=1_764_583_200_000 + 2_000))
    assert tag.status_code == 202
    body = cloudflare_line(site.domain, "/pricing", CHROME)
    answer = post_logs(site, body, humans="1")
    assert answer.json() == {"accepted": 0, "skipped": {"seen_by_tag": 1}}
    assert site.events("path, hit_source") == [("/pricing", "collector")]


def test_vercel_drain_entries_count_each_request_once(site: Site) -> None:
    def entry(message: str, request_id: str, path: str) -> dict[str, Any]:
        return {
            "id": f"{request_id}-{message}",
            "message": message,
            "timestamp": 1_764_583_200_000,
            "source": "lambda",
            "host": site.domain,
            "requestId": request_id,
            "proxy": {
                "timestamp": 1_764_583_200_000,
                "method": "GET",
                "host": site.domain,
                "path": path,
                "userAgent": [GPTBOT],
                "referer": "",
                "statusCode": 200,
                "clientIp": GPTBOT_IP,
            },
        }

    build = {"id": "b1", "message": "Build done", "timestamp": 1, "source": "build"}
    entries = [entry("start", "r1", "/a"), entry("end", "r1", "/a"), entry("x", "r2", "/b"), build]
    answer = post_logs(site, orjson.dumps(entries), fmt="vercel")  # `json` delivery: an array
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 2, "skipped": {"duplicate": 1, "not_a_request": 1}}
    again = post_logs(site, b"\n".join(orjson.dumps(e) for e in entries), fmt="vercel")
    assert again.json()["accepted"] == 0
    assert site.events("path, crawler") == [("/a", "GPTBot"), ("/b", "GPTBot")]


def test_debug_gives_each_lines_fate(site: Site) -> None:
    body = cloudflare_batch(site)
    answer = post_logs(site, body, debug="1")
    lines = answer.json()["debug"]["lines"]
    assert [line["line"] for line in lines] == list(range(9))
    assert lines[0]["fate"] == "stored"
    assert lines[0]["ua_class"] == "ai_crawler"
    assert lines[4] == {"line": 4, "fate": "skipped", "reason": "human"}
    assert lines[8] == {"line": 8, "fate": "skipped", "reason": "unparseable"}


def test_generic_lines(site: Site) -> None:
    line = {
        "ts": 1_764_583_200_000,
        "ip": GPTBOT_IP,
        "method": "GET",
        "host": site.domain,
        "path": "/llms.txt",
        "status": 200,
        "user_agent": GPTBOT,
    }
    answer = post_logs(site, orjson.dumps(line), fmt="generic")
    assert answer.json() == {"accepted": 1, "skipped": {}}
    assert site.events("path, ua_class") == [("/llms.txt", "ai_crawler")]


@pytest.mark.parametrize(
    ("change", "status", "error", "detail"),
    [
        ({"params": {"format": "nginx"}}, 400, "invalid_field", "format: must be one of"),
        ({"params": {"property_id": "x"}}, 400, "invalid_field", "property_id"),
        ({"params": {"key_id": "nope"}}, 401, "invalid_key", "key nope is unknown"),
        ({"headers": {"Authorization": "Bearer wrong"}}, 401, "invalid_key", "does not match"),
        ({"headers": {"Authorization": ""}}, 401, "invalid_key", "Bearer"),
        ({"drop_auth": True}, 401, "unauthorized", "Bearer <key secret> is required"),
        ({"headers": {"Origin": "https://x.example"}}, 403, "origin_not_allowed", "no Origin"),
        ({"headers": {"Content-Encoding": "gzip"}}, 400, "malformed_request", "not valid gzip"),
        ({"headers": {"Content-Encoding": "br"}}, 415, "unsupported_media_type", "br"),
        ({"body": b""}, 400, "invalid_field", "no lines"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    site: Site, change: dict[str, Any], status: int, error: str, detail: str
) -> None:
    body = change.get("body", cloudflare_batch(site))
    headers = dict(change.get("headers", {}))
    query = dict(change.get("params", {}))
    if change.get("drop_auth"):
        answer = httpx.post(
            site.server.url + "/v1/logs",
            content=body,
            params={"key_id": site.key_id, "project_id": site.project_id,
                    "property_id": str(site.property_id), "format": "cloudflare"},
            timeout=10,
        )  # fmt: skip
    else:
        answer = post_logs(site, body, headers=headers, **query)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert detail in answer.json()["detail"]
    assert stored(site) == []


def test_a_gzip_bomb_is_refused_as_too_large(site: Site) -> None:
    bomb = gzip.compress(b"\n" * (64 * 1024 * 1024))  # 64 MiB of newlines in ~64 KB
    assert len(bomb) < 200_000
    answer = post_logs(site, bomb, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert "inflates past" in answer.json()["detail"]


def test_a_body_past_the_limit_is_refused(site: Site) -> None:
    line = cloudflare_line(site.domain, "/", GPTBOT)
    body = b"\n".join([line] * (9 * 1024 * 1024 // len(line)))
    answer = post_logs(site, body)
    assert answer.status_code == 413
    assert stored(site) == []


def test_the_same_lines_sent_at_once_are_stored_once(site: Site) -> None:
    body = cloudflare_batch(site)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: post_logs(site, body), range(4)))
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {202, 409}, [answer.text for answer in answers]
    accepted = [answer.json()["accepted"] for answer in answers if answer.status_code == 202]
    assert sum(accepted) == 4  # one request stored the four hits; the others found them
    assert stored(site) == EXPECTED_ROWS


def metric(site: Site, name: str, label: str) -> float:
    text = httpx.get(site.server.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f"{name}{{{label}}} "):
            return float(line.split()[-1])
    return 0.0


def test_lines_are_counted_by_fate_in_metrics(site: Site) -> None:
    before = {
        fate: metric(site, "optiview_log_lines_total", f'fate="{fate}"')
        for fate in ("stored", "human", "unparseable")
    }
    assert post_logs(site, cloudflare_batch(site)).status_code == 202
    after = {
        fate: metric(site, "optiview_log_lines_total", f'fate="{fate}"')
        for fate in ("stored", "human", "unparseable")
    }
    assert {fate: after[fate] - before[fate] for fate in after} == {
        "stored": 4,
        "human": 1,
        "unparseable": 1,
    }


def test_a_batch_larger_than_the_writer_process_queue_is_stored_in_parts(
    tmp_path: Path,
) -> None:
    """Under `optiview serve`'s writer process, whose queue holds 50 events: the parts it
    refuses while the batch's own earlier parts wait are sent again after those commit."""
    server = start_server(
        tmp_path / "optiview.db", TMPDIR=str(tmp_path), OPTIVIEW_QUEUE_MAX_EVENTS="50"
    )
    try:
        site = provision_on(server)
        lines = [
            cloudflare_line(site.domain, f"/p/{n}", GPTBOT, RayID=f"{n:016x}") for n in range(300)
        ]
        answer = post_logs(site, b"\n".join(lines))
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 300
        assert len(stored(site)) == 300
    finally:
        server.stop()
