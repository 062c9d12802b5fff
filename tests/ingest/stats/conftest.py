"""Fixtures of the read API's tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres
from tests.ingest.stats.seeding import Site


@pytest.fixture
def fresh_site(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    """A site in a database of the test's own, on the module's backend (`db_location` is the
    module's): for the few tests that change the schema or need an empty database."""
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            location: Path | str = tmp_path / "stats.db"
        else:
            server_url: str = request.getfixturevalue("postgres_server")
            location = stack.enter_context(postgres.fresh_database(server_url, "stats_fresh"))
        site = Site(location)
        stack.callback(site.conn.close)
        yield site
