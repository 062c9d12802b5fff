"""The ASGI application: routes, exception handlers, and the database's lifetime."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingest import metrics
from ingest.admin.routes import admin_mount
from ingest.collect.routes import collect, preflight
from ingest.collect.service import Collector
from ingest.config import Settings, load_settings
from ingest.console.routes import console_routes
from ingest.health import health
from ingest.http import EXCEPTION_HANDLERS, AppState
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


def create_app(settings: Settings | None = None) -> Starlette:
    config = settings or load_settings()

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
        try:
            yield
        finally:
            # The server has stopped taking requests and finished the ones under way:
            # write whatever they queued, then let go of the database.
            await collector.close()
            await db.close()
            metrics.process_exited(os.getpid())

    tag = TagEndpoint(build_all())  # built once per worker, at start
    routes = [
        Route("/v1/tag.js", tag.handle, methods=["GET", "HEAD"]),
        Route("/v1/events", collect, methods=["POST"]),
        Route("/v1/events", preflight, methods=["OPTIONS"]),
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
    return app
