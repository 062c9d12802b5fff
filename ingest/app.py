"""The ASGI application: routes, exception handlers, and the database's lifetime.

POST and OPTIONS /v1/events go straight to the collector's plain ASGI endpoint (its hot path,
see ingest/collect/endpoint.py); Starlette serves everything else, the lifespan included.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ingest import metrics
from ingest.admin.routes import admin_mount
from ingest.collect import endpoint as events
from ingest.collect.service import Collector
from ingest.config import Settings, load_settings
from ingest.console.routes import console_routes
from ingest.health import health
from ingest.http import EXCEPTION_HANDLERS, AppState
from ingest.logs.route import PATH as LOGS_PATH
from ingest.logs.route import receive_logs
from ingest.openapi.route import openapi_json
from ingest.stats.routes import stats_routes
from ingest.storage import migrations, pg_migrations
from ingest.storage.backend import migrate as migrate_storage
from ingest.storage.backend import open_database
from ingest.storage.datafile import ensure_database_file
from tag.build import build_all
from tag.serving import TagEndpoint


def migrate(settings: Settings) -> list[str]:
    return migrate_storage(settings.db, settings.sqlite_synchronous, settings.busy_timeout_ms)


async def metrics_endpoint(request: Request) -> Response:
    body, content_type = metrics.render()
    return Response(body, headers={"Content-Type": content_type})


class OptiviewApp:
    """The service's ASGI app: the collector's route by a direct test of the scope, the rest
    (and every /v1/events request Starlette must answer, e.g. a GET's 405) by Starlette."""

    def __init__(self, starlette: Starlette, collector: events.CollectorEndpoint) -> None:
        self.starlette = starlette
        self.collector = collector
        self.routes: list[BaseRoute] = starlette.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == events.PATH
            and scope["method"] in events.METHODS
            and not scope.get("root_path")  # Starlette's routing strips a root path first
        ):
            await self.collector(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def _settle_garbage_collector() -> None:
    """Move everything alive after start-up (modules, the tag, ua-parser's tables, caches,
    connections) out of the collector's way: a full collection used to walk all of it, a pause
    of about 21 ms that a request in flight waited through. Garbage first, so it is not kept
    forever. Frozen objects are still freed when their references go."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> OptiviewApp:
    config = settings or load_settings()
    collector_endpoint = events.CollectorEndpoint()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # `optiview serve` checks the file and migrates before starting workers; this covers
        # other ASGI servers, with the same rule: production never starts on an empty file.
        ensure_database_file(config.db, create=not config.production)
        migrate(config)
        db = await open_database(
            config.db,
            busy_timeout_ms=config.busy_timeout_ms,
            sqlite_synchronous=config.sqlite_synchronous,
            pg_synchronous_commit=config.pg_synchronous_commit,
        )
        # /health compares the database's d1_migrations with these (on PostgreSQL, its twins).
        available = pg_migrations if db.dialect == "postgres" else migrations
        known = tuple(m.name for m in available.available())
        collector = Collector.start(config, db)
        app.state.optiview = AppState(
            settings=config, db=db, migrations_known=known, collector=collector
        )
        collector_endpoint.collector = collector
        # Requests count into memory; this applies the counts to the metrics every 0.1 s.
        flushing = metrics.start_flushing()
        _settle_garbage_collector()
        try:
            yield
        finally:
            # The server has stopped taking requests and finished the ones under way:
            # write whatever they queued, then let go of the database.
            await collector.close()
            await db.close()
            flushing.cancel()
            metrics.flush_pending()  # the last counts, before the process's files are closed
            metrics.process_exited(os.getpid())

    tag = TagEndpoint(build_all())  # built once per worker, at start
    routes = [
        Route("/v1/tag.js", tag.handle, methods=["GET", "HEAD"]),
        Route(events.PATH, collector_endpoint, methods=["POST"]),
        Route(events.PATH, collector_endpoint, methods=["OPTIONS"]),
        Route(LOGS_PATH, receive_logs, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        admin_mount(config.admin_token),
        *stats_routes(),
        *console_routes(),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    # Its redirect (/health/ -> /health) would be built from the client's Host header;
    # a path with a trailing slash is a plain 404 instead.
    app.router.redirect_slashes = False
    return OptiviewApp(app, collector_endpoint)
