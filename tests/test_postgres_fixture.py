"""The PostgreSQL the tests use (tests/postgres.py, fixtures in conftest.py): the server on
127.0.0.1:5432 or a throwaway cluster, a fresh database per module, and a failure, never a
skip, when there is none."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests import postgres

ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).relative_to(ROOT)


def database_exists(server_url: str, name: str) -> bool:
    with psycopg.connect(f"{server_url}/postgres") as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def run_pytest(test: str, setting: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"{THIS}::{test}"],
        cwd=ROOT,
        env={**os.environ, postgres.SETTING: setting},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_module_gets_an_empty_database_of_its_own(postgres_db: str):
    name = urlsplit(postgres_db).path.lstrip("/")
    assert re.fullmatch(r"optiview_test_test_postgres_fixture_[0-9a-f]{8}", name)
    with psycopg.connect(postgres_db) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE probe (id BIGINT PRIMARY KEY)")
        conn.execute("INSERT INTO probe VALUES (1)")


def test_a_fresh_database_is_dropped_afterwards_even_while_connected(postgres_server: str):
    with contextlib.ExitStack() as stack:
        with postgres.fresh_database(postgres_server, "drop check") as url:
            name = urlsplit(url).path.lstrip("/")
            assert name.startswith("optiview_test_drop_check_")
            assert database_exists(postgres_server, name)
            # a connection a test leaves open (a killed server's, say) must not block the drop
            lingering = stack.enter_context(psycopg.connect(url))
        assert not database_exists(postgres_server, name)
        with pytest.raises(psycopg.OperationalError):
            lingering.execute("SELECT 1")


def test_auto_prefers_the_server_on_5432():
    local, _ = postgres.local_server()
    with postgres.postgres_server("auto") as found:
        if local is not None:
            assert found.url == local
            assert urlsplit(found.url).port == 5432
        else:
            assert "throwaway" in found.source


def test_without_a_server_on_5432_auto_starts_a_throwaway_cluster():
    # a machine where nothing listens on the local port, as a fresh one
    closed = postgres.free_port()
    with postgres.postgres_server("auto", local_port=closed) as found:
        port = urlsplit(found.url).port
        assert port not in (closed, 5432)
        assert found.source.startswith("a throwaway cluster (")
        with postgres.fresh_database(found.url, "fallback") as url, psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_setting('fsync')").fetchone() == ("off",)
    assert postgres.answers(found.url) is not None  # stopped


def test_a_throwaway_cluster_serves_a_whole_test_run_and_is_removed():
    run = run_pytest("test_a_module_gets_an_empty_database_of_its_own", "throwaway")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    used = re.search(
        r"PostgreSQL for the tests: a throwaway cluster \(\d+\) on 127\.0\.0\.1:(\d+)"
        r" in (\S+)",
        run.stdout,
    )
    assert used, run.stdout
    port, folder = int(used[1]), Path(used[2])
    assert port != 5432
    # stopped and deleted at the end of the run
    assert not folder.exists()
    assert postgres.answers(f"postgresql://postgres@127.0.0.1:{port}") is not None


def test_no_server_fails_the_test_with_the_reason_never_skips():
    nowhere = f"postgresql://postgres@127.0.0.1:{postgres.free_port()}"
    run = run_pytest("test_a_module_gets_an_empty_database_of_its_own", nowhere)

    assert run.returncode != 0
    assert "1 error" in run.stdout
    assert "skipped" not in run.stdout
    assert f"{postgres.SETTING}={nowhere} does not answer" in run.stdout


def test_a_cluster_without_binaries_says_what_to_install(tmp_path: Path):
    with pytest.raises(postgres.PostgresUnavailable, match="apt-get install postgresql"):
        postgres.ThrowawayCluster(bin_dir=tmp_path)


def test_an_unknown_setting_is_refused():
    with (
        pytest.raises(postgres.PostgresUnavailable, match="expected auto, throwaway or a"),
        postgres.postgres_server("sometimes"),
    ):
        pass
