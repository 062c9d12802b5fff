"""The OpenAPI document describes every route of the app, and nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import orjson
import schemathesis
from starlette.routing import BaseRoute, Mount, Route

from ingest.app import create_app
from ingest.collect import parse
from ingest.config import load_settings
from ingest.errors import ErrorCode
from ingest.openapi import build_document
from tests.conftest import ADMIN_TOKEN, KEY_HASH_SECRET, Server

# HTML pages for people, not part of the JSON API the document describes.
NOT_API = frozenset({"/console"})


def served_routes(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every API route, walking mounts; `{id:int}` becomes `{id}`."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if prefix + getattr(route, "path", "") in NOT_API:
            continue
        if isinstance(route, Mount):
            found |= served_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = prefix + route.path.replace(":int", "")
            methods = set(route.methods or ())
            if "GET" in methods:  # Starlette answers HEAD for every GET route by itself
                methods.discard("HEAD")
            found |= {(method.lower(), path) for method in methods}
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def described(document: dict[str, object]) -> set[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {(method, path) for path, item in paths.items() for method in item}


def app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    settings = load_settings(
        {
            "OPTIVIEW_DB": str(tmp_path / "optiview.db"),
            "OPTIVIEW_ADMIN_TOKEN": ADMIN_TOKEN,
            "KEY_HASH_SECRET": KEY_HASH_SECRET,
            "OPTIVIEW_ENV_FILE": os.devnull,
        }
    )
    return served_routes(create_app(settings).routes)


def test_every_route_is_described_and_nothing_stale(tmp_path: Path) -> None:
    routes = app_routes(tmp_path)
    documented = described(build_document())
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "the document describes routes the app does not serve"
    assert ("post", "/api/admin/orgs") in routes and len(routes) > 20
    assert not any(path.startswith("/console") for _, path in routes)


def test_the_comparison_sees_a_missing_route(tmp_path: Path) -> None:
    document = build_document()
    trimmed = {**document, "paths": {k: v for k, v in document["paths"].items() if k != "/health"}}
    assert app_routes(tmp_path) - described(trimmed) == {("get", "/health")}


def test_the_document_loads_as_openapi_31_with_every_operation_valid() -> None:
    schema = schemathesis.openapi.from_dict(build_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(described(build_document()))


def test_limits_and_error_codes_come_from_the_code() -> None:
    components = build_document()["components"]["schemas"]
    assert components["Error"]["properties"]["error"]["enum"] == [c.value for c in ErrorCode]
    batch = components["EventBatch"]["properties"]
    assert batch["events"]["maxItems"] == parse.MAX_EVENTS
    event = components["Event"]["properties"]
    assert event["url"]["maxLength"] == parse.MAX_URL
    assert event["props"]["maxProperties"] == parse.MAX_PROPS


def test_served_at_openapi_json(server: Server) -> None:
    answer = httpx.get(server.url + "/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert orjson.loads(answer.content) == orjson.loads(orjson.dumps(build_document()))
