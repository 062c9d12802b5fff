"""The ASGI application: routes, exception handlers, and the database's lifetime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from ingest.admin.routes import admin_mount
from ingest.config import Settings, load_settings
from ingest.health import health
from ingest.http import EXCEPTION_HANDLERS, AppState
from ingest.storage import migrations
from ingest.storage.connection import connect
from ingest.storage.database import Database


def migrate(settings: Settings) -> list[str]:
    conn = connect(settings.db_path, settings.sqlite_synchronous, settings.busy_timeout_ms)
    try:
        return migrations.apply_pending(conn)
    finally:
        conn.close()


def create_app(settings: Settings | None = None) -> Starlette:
    config = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # `optiview serve` migrates before starting workers; this covers other ASGI servers.
        migrate(config)
        db = await Database.open(config.db_path, config.sqlite_synchronous, config.busy_timeout_ms)
        known = tuple(m.name for m in migrations.available())
        app.state.optiview = AppState(settings=config, db=db, migrations_known=known)
        try:
            yield
        finally:
            await db.close()

    routes = [
        Route("/health", health, methods=["GET"]),
        admin_mount(config.admin_token),
    ]
    return Starlette(
        routes=routes,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
