"""Fuzz a running `optiview serve`: schemathesis over /openapi.json (admin routes with the
token) and the collector's body generator with a real key. Any 5xx, any answer the document
does not describe, or any traceback in the server's log fails."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis

from ingest.openapi import build_document
from loadtests.fuzzing.bodies import Target
from loadtests.fuzzing.collector import run_collector
from loadtests.fuzzing.openapi import MUTATING_LAST, load, run_openapi
from loadtests.fuzzing.tally import Tally
from tests.conftest import ADMIN_TOKEN, Server, serving
from tests.ingest.collect.conftest import Site, provision_on

# Examples per operation and mode (positive, negative, and positive with real ids). An
# operation with a query, a body or a header of its own gets the full count: that is where
# schemathesis has something to vary (has_inputs). One whose only inputs are path ids and the
# token gets few: positive, every random id is a 404; negative, a broken id or token is a 400
# or a 401; with the real ids, every case is the same request. 10 of those meet the same
# statuses 30 did (measured: 3,302 cases became 2,422, answered with the same statuses). The
# long fuzz (`python -m loadtests.fuzz`) is where counts go up.
EXAMPLES_PER_OPERATION = 30
EXAMPLES_PER_SIMPLE_OPERATION = 10
# 500 bodies draw the generator's rarest branch (a whole batch replaced by junk, 1 in 41)
# about 12 times, and each of its damages to the bytes (1 in 21 each) about 24 times: enough
# for every kind of body and caller to reach the server; 1,500 repeated them.
COLLECTOR_EXAMPLES = 500
# The same fuzz, shorter, on PostgreSQL: its own refusals (NUL in text, integer ranges, SQL
# spelling) must be 4xx too, without doubling the suite's longest module.
EXAMPLES_ON_POSTGRES = 5
EXAMPLES_PER_SIMPLE_OPERATION_ON_POSTGRES = 2
COLLECTOR_EXAMPLES_ON_POSTGRES = 200


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One key takes every collector case: its rate limit would only answer 429s.
    yield from serving(
        tmp_path_factory.mktemp("fuzz") / "optiview.db", OPTIVIEW_RATE_LIMIT_PER_KEY="0"
    )


@pytest.fixture(scope="module")
def fuzzed_postgres(postgres_db: str) -> Iterator[Server]:
    yield from serving(postgres_db, OPTIVIEW_RATE_LIMIT_PER_KEY="0")


def server_log(server: Server) -> str:
    """The server's log: beside its SQLite file, or in the temporary folder tests/conftest.py
    made for it (the newest of that port's, should an old run have used the port too)."""
    port = server.url.rsplit(":", 1)[1]
    if isinstance(server.db, Path):
        return (server.db.parent / f"server-{port}.log").read_text(errors="replace")
    logs = Path(tempfile.gettempdir()).glob(f"optiview-server-*/server-{port}.log")
    newest = max(logs, key=lambda log: log.stat().st_mtime)
    return newest.read_text(errors="replace")


def known_ids(site: Site) -> dict[str, Any]:
    project = httpx.get(
        f"{site.server.url}/api/admin/projects/{site.project_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    return {
        "org_id": project.json()["org_id"],
        "project_id": site.project_id,
        "property_id": site.property_id,
        "key_id": site.key_id,  # revoked and rotated by the fuzz: not the collector's key
    }


def target(site: Site) -> Target:
    return Target(site.key_id, site.project_id, site.property_id, site.domain, site.secret)


def has_inputs(operation: Any) -> bool:
    """A query, a body or a header besides the token: something to fuzz beyond ids."""
    headers = [header for header in operation.headers if header.name != "Authorization"]
    return bool(len(operation.query) or len(operation.body) or headers)


def fuzz_every_operation(
    server: Server, full: int, simple: int, tally: Tally, known_ids: dict[str, Any]
) -> None:
    """run_openapi over every operation, in its order (changes and deletions last), with
    `full` examples where the operation has inputs of its own and `simple` where it has not."""
    schema: Any = load(server.url)  # its operations, typed as results, are all Ok here
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: op.method.lower() in MUTATING_LAST,
    )
    unanswered = []
    for operation in operations:
        examples = full if has_inputs(operation) else simple
        before = tally.cases
        run_openapi(
            server.url, ADMIN_TOKEN, examples, tally,
            known_ids=known_ids, schema=schema, only=operation.label,
        )  # fmt: skip
        if tally.cases == before:
            unanswered.append(operation.label)
    assert len(operations) > 40 and not unanswered, unanswered


def assert_clean(tally: Tally, server: Server) -> None:
    assert tally.clean, tally.summary()
    assert "Traceback" not in server_log(server), server_log(server)[-5000:]


def test_openapi_fuzz_every_answer_matches_the_document(fuzzed: Server) -> None:
    tally = Tally()
    ids = known_ids(provision_on(fuzzed))
    fuzz_every_operation(
        fuzzed, EXAMPLES_PER_OPERATION, EXAMPLES_PER_SIMPLE_OPERATION, tally, known_ids=ids
    )
    assert tally.cases > 1000
    assert tally.statuses[200] and tally.statuses[201] and tally.statuses[404]
    assert_clean(tally, fuzzed)
    # DELETE needs ?confirm=<the id>: the fuzz cannot guess it, so what it was given survives.
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for path in (
        f"/orgs/{ids['org_id']}",
        f"/projects/{ids['project_id']}",
        f"/properties/{ids['property_id']}",
    ):
        answer = httpx.get(f"{fuzzed.url}/api/admin{path}", headers=headers, timeout=10)
        assert answer.status_code == 200, (path, answer.text)


def test_collector_fuzz_with_a_real_key(fuzzed: Server) -> None:
    site = provision_on(fuzzed)
    tally = Tally()
    run_collector(fuzzed.url, target(site), COLLECTOR_EXAMPLES, tally)
    assert tally.cases == COLLECTOR_EXAMPLES
    # Mostly valid: a good share is stored, and the mutations are refused.
    assert tally.statuses[202] > COLLECTOR_EXAMPLES // 5, tally.summary()
    assert tally.statuses[400] > COLLECTOR_EXAMPLES // 10, tally.summary()
    assert_clean(tally, fuzzed)


def test_the_fuzz_catches_an_answer_the_document_does_not_describe(fuzzed: Server) -> None:
    document = build_document()
    wrong = {**document, "paths": {**document["paths"]}}
    wrong["paths"]["/health"] = {
        "get": {**document["paths"]["/health"]["get"], "responses": {"503": {"description": "x"}}}
    }
    tally = Tally()
    schema = schemathesis.openapi.from_dict(wrong)
    run_openapi(fuzzed.url, ADMIN_TOKEN, 5, tally, schema=schema, only="GET /health")
    assert tally.nonconforming == 1 and tally.findings[0].status == 200


def test_a_shorter_fuzz_on_postgresql(fuzzed_postgres: Server) -> None:
    tally = Tally()
    ids = known_ids(provision_on(fuzzed_postgres))
    fuzz_every_operation(
        fuzzed_postgres,
        EXAMPLES_ON_POSTGRES,
        EXAMPLES_PER_SIMPLE_OPERATION_ON_POSTGRES,
        tally,
        known_ids=ids,
    )
    run_collector(
        fuzzed_postgres.url,
        target(provision_on(fuzzed_postgres)),
        COLLECTOR_EXAMPLES_ON_POSTGRES,
        tally,
    )
    assert tally.cases > COLLECTOR_EXAMPLES_ON_POSTGRES + 200, tally.summary()
    for status in (200, 201, 202, 400, 404):
        assert tally.statuses[status], (status, tally.summary())
    assert_clean(tally, fuzzed_postgres)
