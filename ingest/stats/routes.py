"""HTTP routes of the read API: /api/v1/projects/{project_id}/stats/{endpoint}.

A handler checks who is asking (access.py), then runs the whole answer in one read: the
project's properties, the parameters (params.py) and the endpoint's counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingest.clock import now_ms
from ingest.http import json_response, state
from ingest.stats import counts, params
from ingest.stats.access import reader_scope
from ingest.stats.cache import answers_for
from ingest.stats.endpoints import ai, breakdown, content, funnel, journeys, timeseries
from ingest.stats.query import StatsQuery, project_properties
from ingest.storage.sql import Conn

PREFIX = "/api/v1/projects/{project_id}/stats"
# An endpoint: (connection, the common query, the raw parameters) -> the JSON answer.
Answer = Callable[[Conn, StatsQuery, Mapping[str, str]], dict[str, Any]]


def _timeseries(conn: Conn, q: StatsQuery, raw: Mapping[str, str]) -> dict[str, Any]:
    return timeseries.answer(conn, q, params.metric(raw), params.interval(raw, q))


def _breakdown(conn: Conn, q: StatsQuery, raw: Mapping[str, str]) -> dict[str, Any]:
    metric = params.metric(raw)
    dimension = params.dimension(raw, metric, counts.SUPPORTED, counts.DIMENSIONS)
    return breakdown.answer(conn, q, dimension, metric)


ENDPOINTS: dict[str, Answer] = {
    "timeseries": _timeseries,
    "breakdown": _breakdown,
    "content": lambda conn, q, raw: content.answer(conn, q),
    "journeys": lambda conn, q, raw: journeys.answer(conn, q),
    "ai": lambda conn, q, raw: ai.answer(conn, q),
    "funnel": lambda conn, q, raw: funnel.answer(conn, q),
}


def handler(endpoint: Answer) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        project_id = str(request.path_params["project_id"])
        scope = await reader_scope(request)
        scope.check(project_id)  # before looking the project up: a read token learns nothing
        raw = request.query_params
        now = now_ms()
        app = state(request)
        answers = answers_for(str(app.settings.db), app.settings.stats_cache_ms)
        asked = (endpoint, project_id, tuple(sorted(raw.multi_items())))

        def work(conn: Conn) -> dict[str, Any]:
            q = params.stats_query(raw, project_id, project_properties(conn, project_id), now)
            return endpoint(conn, q, raw)

        def cached(conn: Conn) -> dict[str, Any]:
            return answers.get_or_compute(asked, lambda: work(conn))

        return json_response(await app.db.read_analytics(cached))

    return handle


def stats_routes() -> list[Route]:
    return [
        Route(f"{PREFIX}/{name}", handler(endpoint), methods=["GET"])
        for name, endpoint in ENDPOINTS.items()
    ]
