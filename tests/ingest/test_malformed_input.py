"""Every malformed input, over real HTTP, gets a 4xx JSON error whose detail names what was
wrong; none reaches a 500. One case per input, for the collector and the admin API, on both
backends (PostgreSQL refuses more than SQLite does, such as U+0000 in text: same answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ADMIN_TOKEN, INLINE_WRITER, Server, serving
from tests.ingest.admin.conftest import unique_domain
from tests.ingest.collect.conftest import Site, provision

BIG = "99999999999999999999999"
JUST_OVER = str(2**63)  # SQLite's INTEGER is signed 64-bit


@pytest.fixture(scope="module")
def server(db_location: Path | str) -> Iterator[Server]:
    """The module's server, on each backend in turn (overrides the session's SQLite one)."""
    yield from serving(db_location, **INLINE_WRITER)


@pytest.fixture(scope="module")
def shop(server: Server) -> Iterator[Site]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url + "/api/admin", headers=headers, timeout=10) as admin:
        yield provision(server, admin)


def assert_refused(response: httpx.Response, status: int, names: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert names in body["detail"], body


# --- collector ---------------------------------------------------------------------------------

Edit = Callable[[dict[str, Any]], Any]


def field(name: str, value: Any) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        body[name] = value

    return edit


def event_field(name: str, value: Any) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        body["events"][0][name] = value

    return edit


COLLECTOR_FIELDS: list[Any] = [
    # (id, edit of a valid body, the name the detail must contain)
    ("type-object", event_field("type", {"a": 1}), "events[0].type"),
    ("type-list", event_field("type", ["pageview"]), "events[0].type"),
    ("type-null", event_field("type", None), "events[0].type"),
    ("property-superscript-2", field("property_id", "²"), "property_id"),
    ("property-arabic-indic-1", field("property_id", "\u0661"), "property_id"),
    ("property-fullwidth-1", field("property_id", "\uff11"), "property_id"),
    ("property-zero", field("property_id", 0), "property_id"),
    ("property-zero-text", field("property_id", "0"), "property_id"),
    ("property-negative", field("property_id", -1), "property_id"),
    ("property-negative-text", field("property_id", "-1"), "property_id"),
    ("property-2**63", field("property_id", 2**63), "property_id"),
    ("property-2**63-text", field("property_id", JUST_OVER), "property_id"),
    ("property-u64-max", field("property_id", 2**64 - 1), "property_id"),
    ("property-float", field("property_id", 1.5), "property_id"),
    ("property-bool", field("property_id", True), "property_id"),
    ("property-object", field("property_id", {}), "property_id"),
    ("key-list", field("key_id", ["key_x"]), "key_id"),
    ("key-object", field("key_id", {"a": 1}), "key_id"),
    ("key-nul", field("key_id", "key_\x00"), "key_id"),
    ("project-number", field("project_id", 5), "project_id"),
    ("events-object", field("events", {"type": "pageview"}), "events"),
    ("events-string", field("events", "pageview"), "events"),
    ("event-list", field("events", [[]]), "events[0]"),
    ("ts-huge-float", event_field("ts", 1e300), "events[0].ts"),
    ("ts-negative", event_field("ts", -1), "events[0].ts"),
    ("ts-u64", event_field("ts", 2**64 - 1), "events[0].ts"),
    ("ts-bool", event_field("ts", True), "events[0].ts"),
    ("url-number", event_field("url", 5), "events[0].url"),
    ("url-nul", event_field("url", "https://a.example/\x00"), "events[0].url"),
    ("title-object", event_field("title", {}), "events[0].title"),
    ("title-bell", event_field("title", "ding\x07"), "events[0].title"),
    ("referrer-del", event_field("referrer", "https://r.example/\x7f"), "events[0].referrer"),
    ("session-escape", event_field("session_id", "s\x1b[2J"), "events[0].session_id"),
    ("session-c1", event_field("session_id", "s\x9b"), "events[0].session_id"),
    ("user-agent-newline", event_field("user_agent", "UA\r\nX: y"), "events[0].user_agent"),
    ("props-string", event_field("props", "a=b"), "events[0].props"),
    ("props-list", event_field("props", [1]), "events[0].props"),
    ("props-nested", event_field("props", {"a": {"b": 1}}), "events[0].props.a"),
    ("props-list-value", event_field("props", {"a": [1]}), "events[0].props.a"),
    ("props-key-nul", event_field("props", {"a\x00": 1}), "events[0].props key"),
    ("props-value-nul", event_field("props", {"a": "x\x00"}), "events[0].props.a"),
]


@pytest.mark.parametrize(
    ("edit", "names"), [pytest.param(e, n, id=i) for i, e, n in COLLECTOR_FIELDS]
)
def test_collector_refuses_malformed_field(shop: Site, edit: Edit, names: str):
    body = shop.payload()
    edit(body)
    response = shop.send(body=body)
    assert_refused(response, 400, names)
    assert response.json()["error"] == "invalid_field"


def test_collector_named_event_with_nul_name(shop: Site):
    response = shop.send({"type": "custom", "name": "signup\x00"})
    assert_refused(response, 400, "events[0].name")


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


COLLECTOR_BODIES: list[Any] = [
    ("invalid-utf8", b'{"key_id": "\xff\xfe"}', "not valid JSON"),
    ("lone-high-surrogate", b'{"key_id": "\\ud800"}', "not valid JSON"),
    ("lone-low-surrogate", b'{"key_id": "\\udc80"}', "not valid JSON"),
    ("encoded-surrogate", b'{"key_id": "\xed\xa0\x80"}', "not valid JSON"),
    ("nan", b'{"property_id": NaN}', "not valid JSON"),
    ("infinity", b'{"property_id": Infinity}', "not valid JSON"),
    ("float-overflow", b'{"property_id": 1e400}', "not valid JSON"),
    ("deep-nesting", nested(5000), "not valid JSON"),
    ("null", b"null", "JSON object"),
    ("list", b"[]", "JSON object"),
    ("number", b"1", "JSON object"),
    ("empty", b"", "body is empty"),
]


@pytest.mark.parametrize(
    ("raw", "names"), [pytest.param(r, n, id=i) for i, r, n in COLLECTOR_BODIES]
)
def test_collector_refuses_malformed_body(shop: Site, raw: bytes, names: str):
    response = shop.send(body=raw)
    assert_refused(response, 400, names)
    assert response.json()["error"] == "invalid_json"


def test_surrogate_pair_escape_is_valid_text(shop: Site):
    raw = orjson.dumps(shop.payload()).replace(
        b'"type":"pageview"', b'"type":"pageview","title":"\\ud83d\\ude42"'
    )
    assert shop.send(body=raw).status_code == 202
    assert shop.events("title")[-1] == ("\N{SLIGHTLY SMILING FACE}",)


def test_unknown_top_level_and_event_fields_are_ignored(shop: Site):
    body = shop.payload(shop.pageview("/ignored", future_field={"x": 1}), schema_version=2)
    response = shop.send(body=body)
    assert response.status_code == 202, response.text
    assert ("/ignored",) in shop.events("path")


@pytest.mark.parametrize(
    "origins",
    [
        pytest.param(["https://evil.example", "{site}"], id="evil-first"),
        pytest.param(["{site}", "https://evil.example"], id="site-first"),
        pytest.param(["{site}", "{site}"], id="same-twice"),
    ],
)
def test_two_origin_headers_are_refused(shop: Site, origins: list[str]):
    sent = [("Origin", o.format(site=shop.origin)) for o in origins]
    body = orjson.dumps(shop.payload())
    url = shop.server.url + "/v1/events"
    posted = httpx.post(url, content=body, headers=[*sent, ("Content-Type", "text/plain")])
    assert_refused(posted, 400, "Origin: the request has 2 Origin headers")
    assert "access-control-allow-origin" not in posted.headers
    preflight = httpx.options(
        url, headers=[*sent, ("Access-Control-Request-Method", "POST")], timeout=10
    )
    assert_refused(preflight, 400, "Origin: the request has 2 Origin headers")
    assert "access-control-allow-origin" not in preflight.headers


# --- admin API ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminCase:
    method: str
    path: str  # {project} and {property} are filled in
    status: int
    names: str
    params: dict[str, str] | None = None
    json: Any = None
    content: bytes | None = None


ADMIN_CASES: list[Any] = [
    ("property-path-2**63", AdminCase("GET", f"/properties/{JUST_OVER}", 400, "property_id")),
    ("property-path-huge", AdminCase("GET", f"/properties/{BIG}", 400, "property_id")),
    ("property-keys-huge", AdminCase("GET", f"/properties/{BIG}/keys", 400, "property_id")),
    (
        "create-key-huge-property",
        AdminCase("POST", f"/properties/{JUST_OVER}/keys", 400, "property_id", json={"name": "k"}),
    ),
    ("property-path-zero", AdminCase("GET", "/properties/0", 400, "property_id")),
    ("property-path-negative", AdminCase("GET", "/properties/-1", 400, "property_id")),
    ("property-path-word", AdminCase("GET", "/properties/abc", 400, "property_id")),
    ("property-path-superscript", AdminCase("GET", "/properties/%C2%B2", 400, "property_id")),
    ("property-path-arabic-1", AdminCase("GET", "/properties/%D9%A1", 400, "property_id")),
    *(
        (
            f"install-property-{name}",
            AdminCase("GET", "/projects/{project}/install", 400, "property_id", {"property_id": v}),
        )
        for name, v in [
            ("huge", BIG),
            ("2**63", JUST_OVER),
            ("superscript", "²"),
            ("arabic-1", "\u0661"),
            ("zero", "0"),
            ("negative", "-1"),
            ("float", "1e3"),
            ("space", " 1"),
            ("underscore", "1_0"),
        ]
    ),
    (
        "verify-property-huge",
        AdminCase(
            "GET", "/projects/{project}/install/verify", 400, "property_id", {"property_id": BIG}
        ),
    ),
    (
        "org-name-nul",
        AdminCase(
            "POST",
            "/orgs",
            400,
            "name",
            json={"name": "Ac\x00me", "domain": "a.com", "plan": "pro"},
        ),
    ),
    (
        "org-name-c1",
        AdminCase(
            "POST",
            "/orgs",
            400,
            "name",
            json={"name": "Acme\x85", "domain": "a.com", "plan": "pro"},
        ),
    ),
    (
        "org-name-newline",
        AdminCase(
            "POST",
            "/orgs",
            400,
            "name",
            json={"name": "Acme\nInc", "domain": "a.com", "plan": "pro"},
        ),
    ),
    (
        "org-name-list",
        AdminCase(
            "POST", "/orgs", 400, "name", json={"name": ["Acme"], "domain": "a.com", "plan": "pro"}
        ),
    ),
    (
        "org-plan-object",
        AdminCase(
            "POST", "/orgs", 400, "plan", json={"name": "Acme", "domain": "a.com", "plan": {}}
        ),
    ),
    (
        "org-domain-nul",
        AdminCase(
            "POST",
            "/orgs",
            400,
            "domain",
            json={"name": "Acme", "domain": "a\x00.com", "plan": "pro"},
        ),
    ),
    (
        "project-description-bell",
        AdminCase(
            "POST",
            "/orgs/org_x/projects",
            400,
            "description",
            json={"name": "Main", "domain": "a.com", "description": "ding\x07"},
        ),
    ),
    (
        "property-domain-number",
        AdminCase("POST", "/projects/{project}/properties", 400, "domain", json={"domain": 5}),
    ),
    (
        "key-name-nul",
        AdminCase("POST", "/properties/{property}/keys", 400, "name", json={"name": "k\x00"}),
    ),
    (
        "key-expiry-number",
        AdminCase(
            "POST",
            "/properties/{property}/keys",
            400,
            "expires_at",
            json={"name": "k", "expires_at": 5},
        ),
    ),
    (
        "key-expiry-year-1",
        AdminCase(
            "POST",
            "/properties/{property}/keys",
            400,
            "expires_at",
            json={"name": "k", "expires_at": "0001-01-01T00:00:00+01:00"},
        ),
    ),
    (
        "sources-object-item",
        AdminCase("PUT", "/projects/{project}/sources", 400, "enabled", json={"enabled": [{}]}),
    ),
    (
        "sources-string",
        AdminCase(
            "PUT", "/projects/{project}/sources", 400, "enabled", json={"enabled": "chatgpt"}
        ),
    ),
    (
        "body-invalid-utf8",
        AdminCase("POST", "/orgs", 400, "not valid JSON", content=b'{"name": "\xff"}'),
    ),
    (
        "body-lone-surrogate",
        AdminCase("POST", "/orgs", 400, "not valid JSON", content=b'{"name": "\\udc80"}'),
    ),
    ("body-deep-nesting", AdminCase("POST", "/orgs", 400, "not valid JSON", content=nested(5000))),
    ("body-list", AdminCase("POST", "/orgs", 400, "JSON object", content=b"[1]")),
    (
        "body-too-large",
        AdminCase(
            "POST", "/orgs", 413, "larger than", content=b'{"name": "' + b"a" * 70_000 + b'"}'
        ),
    ),
    # Ids are base62: one with a control character names nothing (PostgreSQL text cannot even
    # hold U+0000, so it is answered before any lookup, as SQLite's lookup would).
    ("org-id-nul", AdminCase("GET", "/orgs/%00", 404, "does not exist")),
    ("org-id-nul-patch", AdminCase("PATCH", "/orgs/o%00", 404, "organization o", json={})),
    ("key-id-nul", AdminCase("POST", "/keys/%00/revoke", 404, "does not exist")),
    ("key-id-nul-get", AdminCase("GET", "/keys/key_%00", 404, "key key_")),
    ("project-id-nul", AdminCase("GET", "/projects/p%00/onboarding-status", 404, "project p")),
    ("project-id-nul-delete", AdminCase("DELETE", "/projects/p%00", 404, "does not exist")),
    (
        "read-token-id-nul",
        AdminCase("DELETE", "/projects/{project}/read-tokens/rt_%00", 404, "read token rt_"),
    ),
    (
        "install-key-id-nul",
        AdminCase("GET", "/projects/{project}/install", 404, "key k", params={"key_id": "k\x00"}),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=i) for i, c in ADMIN_CASES])
def test_admin_refuses_malformed_input(admin: httpx.Client, shop: Site, case: AdminCase):
    path = case.path.format(project=shop.project_id, property=shop.property_id)
    response = admin.request(
        case.method, path, params=case.params, json=case.json, content=case.content
    )
    assert_refused(response, case.status, case.names)


def test_admin_ignores_unknown_fields(admin: httpx.Client):
    response = admin.post(
        "/orgs",
        json={"name": "Acme", "domain": unique_domain(), "plan": "pro", "colour": "red"},
    )
    assert response.status_code == 201, response.text
    assert "colour" not in response.json()
