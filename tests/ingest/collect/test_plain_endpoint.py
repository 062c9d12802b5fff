"""/v1/events as a plain ASGI endpoint: its answers are the ones a Starlette Response would
send, header for header; ?debug=1 is read as Starlette reads a query; the parse's shortcut for
bodies that cannot hold a control character never lets one through; the app freezes its
start-up objects out of the garbage collector's way."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import Response

from ingest.app import OptiviewApp, create_app
from ingest.collect.cors import allow_headers, preflight_headers
from ingest.collect.parse import BROWSER_BODY_LIMIT, _without_control, parse_batch
from ingest.config import load_settings
from ingest.errors import ApiError, ErrorCode, error_response
from ingest.fields import has_control
from tests.conftest import ADMIN_TOKEN, KEY_HASH_SECRET
from tests.ingest.collect.conftest import Site

SERVER_HEADERS = {b"date", b"server"}  # added by uvicorn to every answer


def app_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in response.headers.raw if k.lower() not in SERVER_HEADERS]


def as_starlette(
    response: httpx.Response, headers: dict[str, str], json: bool = True
) -> list[tuple[bytes, bytes]]:
    """The headers Starlette's Response sends for this status, body and headers."""
    media_type = "application/json" if json else None
    built = Response(response.content, response.status_code, headers, media_type=media_type)
    return list(built.raw_headers)


def test_accepted_answer_is_starlettes_byte_for_byte(site: Site) -> None:
    response = site.send()
    assert response.status_code == 202
    assert response.content == b'{"accepted":1}'
    expected = as_starlette(
        response, {"Vary": "Origin", "Access-Control-Allow-Origin": site.origin}
    )
    assert app_headers(response) == expected
    assert [k for k, _ in expected] == [
        b"vary",
        b"access-control-allow-origin",
        b"content-length",
        b"content-type",
    ]


def test_server_answer_has_no_cors_echo(site: Site) -> None:
    response = site.send(origin=None, headers={"Authorization": f"Bearer {site.secret}"})
    assert response.status_code == 202
    assert app_headers(response) == as_starlette(response, {"Vary": "Origin"})


@pytest.mark.parametrize(
    ("case", "status"),
    [("invalid_json", 400), ("too_large", 413), ("unknown_origin", 403), ("no_key", 401)],
)
def test_refusals_are_starlettes_byte_for_byte(site: Site, case: str, status: int) -> None:
    if case == "invalid_json":
        response = site.send(body=b"{not json")
        cors = allow_headers(site.origin)  # a registered site may read its error
    elif case == "too_large":
        response = site.send(body=b"x" * (BROWSER_BODY_LIMIT + 1))
        cors = allow_headers(site.origin)
    elif case == "unknown_origin":
        response = site.send(origin="https://not-a-site.example.org")
        cors = {"Vary": "Origin"}
    else:
        response = site.send(key_id="key_doesnotexist")
        cors = allow_headers(site.origin)
    assert response.status_code == status
    assert app_headers(response) == as_starlette(response, cors)
    assert set(response.json()) == {"error", "detail"}


def test_preflight_answers_are_starlettes(site: Site) -> None:
    url = site.server.url + "/v1/events"
    allowed = httpx.options(url, headers={"Origin": site.origin}, timeout=10)
    assert allowed.status_code == 204 and allowed.content == b""
    assert app_headers(allowed) == as_starlette(allowed, preflight_headers(site.origin), False)
    refused = httpx.options(url, headers={"Origin": "https://nowhere.example.org"}, timeout=10)
    assert refused.status_code == 403
    assert app_headers(refused) == as_starlette(refused, {"Vary": "Origin"})


def test_other_methods_still_get_starlettes_405(site: Site) -> None:
    response = httpx.get(site.server.url + "/v1/events", timeout=10)
    expected = error_response(
        ApiError(
            ErrorCode.METHOD_NOT_ALLOWED,
            "GET is not allowed on /v1/events",
            headers={"Allow": "POST"},
        )
    )
    assert response.status_code == 405
    assert response.content == expected.body
    assert app_headers(response) == list(expected.raw_headers)


@pytest.mark.parametrize(
    ("query", "debug"),
    [
        ("debug=1", True),
        ("debug=0&debug=1", True),  # the last value wins, as in Starlette's QueryParams
        ("debug=1&debug=0", False),
        ("%64ebug=%31", True),  # %-escapes decoded
        ("debug=1x", False),
        ("", False),
    ],
)
def test_debug_is_read_as_starlette_reads_the_query(site: Site, query: str, debug: bool) -> None:
    url = site.server.url + "/v1/events" + (f"?{query}" if query else "")
    response = httpx.post(url, content=b"{}", headers={"Origin": site.origin}, timeout=10)
    assert response.status_code == 400
    assert ("debug" in response.json()) is debug


@given(st.text())
def test_a_body_without_escapes_del_or_c1_bytes_holds_no_control_character(text: str) -> None:
    raw = orjson.dumps({"title": text, text: 1})
    if _without_control(raw):
        assert not has_control(text)


@pytest.mark.parametrize("char", ["\x00", "\n", "\x1f", "\x7f", "\x80", "\x85", "\x9f"])
def test_control_characters_are_refused_however_the_json_spells_them(char: str) -> None:
    body = {
        "key_id": "key_a",
        "project_id": "prj_a",
        "property_id": 1,
        "events": [{"type": "pageview", "url": "https://a.com/", "title": f"ab{char}"}],
    }
    for raw in (orjson.dumps(body), orjson.dumps(body).replace(b"ab", b"a\\u0062")):
        with pytest.raises(ApiError) as refused:
            parse_batch(raw, 1_800_000_000_000)
        assert refused.value.detail.startswith(
            f"events[0].title: contains control character U+{ord(char):04X} at position 2;"
        )


class Lifespan:
    """The app's lifespan run in this process, for the checks that need its objects."""

    def __init__(self, app: OptiviewApp) -> None:
        self.app = app
        self.stop = asyncio.Event()
        self.started = asyncio.Event()

    async def run(self) -> None:
        messages = [{"type": "lifespan.startup"}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await self.stop.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.started.set()
            assert not message["type"].endswith("failed"), message

        await self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)


async def post(app: OptiviewApp, body: bytes, root_path: str = "") -> tuple[int, list, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "root_path": root_path,
        "path": root_path + "/v1/events",
        "raw_path": (root_path + "/v1/events").encode(),
        "query_string": b"",
        "headers": [(b"origin", b"https://a.example.com"), (b"content-type", b"text/plain")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, answer = sent
    return start["status"], start["headers"], answer["body"]


@pytest.fixture
def settings_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        "OPTIVIEW_DB": str(tmp_path / "optiview.db"),
        "OPTIVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
        "KEY_HASH_SECRET": KEY_HASH_SECRET,
        "OPTIVIEW_ENV_FILE": os.devnull,
        "OPTIVIEW_WRITER": "inline",
    }


def test_started_app_freezes_its_objects_and_starlette_answers_the_same(
    settings_env: dict[str, str],
) -> None:
    async def scenario() -> None:
        app = create_app(load_settings(settings_env))
        life = Lifespan(app)
        # An app started earlier in this test process froze most of what this one would:
        # thawed first, the count says what this start froze.
        gc.unfreeze()
        running = asyncio.create_task(life.run())
        await asyncio.wait_for(life.started.wait(), 30)
        try:
            assert gc.get_freeze_count() > 10_000
            for body in (b"{not json", b'{"key_id": "key_x"}', b"[]"):
                direct = await post(app, body)
                # A root path leaves the direct test to Starlette, whose route is this endpoint.
                routed = await post(app, body, root_path="/behind-a-proxy")
                assert direct == routed
                assert direct[0] == 400
        finally:
            life.stop.set()
            await running
            gc.unfreeze()

    asyncio.run(scenario())
