"""Schemathesis over the served OpenAPI document: every operation, positive and negative
data, each answer checked for its status, content type, headers and schema."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed
from hypothesis.errors import HypothesisException
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loadtests.fuzzing.tally import Finding, Tally

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TIMEOUT_S = 10
MUTATING_LAST = ("patch", "delete")


# POST /v1/logs takes NDJSON, which the document describes as a string body: sent as its text.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


def load(base_url: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    schema.config.base_url = base_url
    return schema


def hypothesis_settings(examples: int, seed: int | None) -> settings:
    """No example database (nothing written to the tree) and, without a seed, derandomized."""
    return settings(
        max_examples=examples,
        database=None,
        derandomize=seed is None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def _headers(operation: Any, admin_token: str) -> dict[str, str]:
    # The read API takes the admin token as well as a project's read token: with it, its
    # queries (periods, zones, metrics, dimensions, paging) are fuzzed, not only refused 401.
    if operation.path.startswith(("/api/admin", "/api/v1/")):
        return {"Authorization": f"Bearer {admin_token}"}
    return {}


def run_operation(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    admin_token: str,
    examples: int,
    tally: Tally,
    session: requests.Session,
    seed: int | None = None,
    path_parameters: dict[str, Any] | None = None,
) -> None:
    headers = _headers(operation, admin_token)
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @hypothesis_settings(examples, seed)
    @given(case=strategy)
    def one(case: Any) -> None:
        try:
            response = case.call(
                base_url=base_url, session=session, headers=headers, timeout=TIMEOUT_S
            )
        except requests.RequestException as exc:
            tally.found(
                Finding(
                    "transport", operation.label, None, repr(exc), case.as_curl_command(headers)
                )
            )
            return
        tally.answered(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:
            kind = "server_error" if response.status_code >= 500 else "nonconforming"
            tally.found(
                Finding(
                    kind,
                    operation.label,
                    response.status_code,
                    f"{exc} | answer: {response.text[:300]!r}",
                    case.as_curl_command(headers),
                )
            )

    if seed is not None:
        one = fixed_seed(seed)(one)
    # Some operations have no negative data to generate (no parameters, no body).
    with contextlib.suppress(HypothesisException):
        one()


def run_openapi(
    base_url: str,
    admin_token: str,
    examples_per_operation: int,
    tally: Tally,
    seed: int | None = None,
    known_ids: dict[str, Any] | None = None,
    schema: schemathesis.BaseSchema | None = None,
    only: str | None = None,
) -> None:
    """Each operation with positive and negative data; where every path parameter has a
    known id (a provisioned org, project, property, key), once more with those ids, so that
    the answers of existing records are checked too, not only 404s."""
    schema = schema or load(base_url)
    known = known_ids or {}
    # Changes and deletions last: run in document order, a PATCH that deactivates the known
    # property would turn every later operation on it into a refusal.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: op.method.lower() in MUTATING_LAST,
    )
    with requests.Session() as session:
        for operation in operations:
            if only is not None and operation.label != only:
                continue
            names = re.findall(r"{(\w+)}", operation.path)
            runs: list[tuple[GenerationMode, dict[str, Any] | None]] = [
                (GenerationMode.POSITIVE, None),
                (GenerationMode.NEGATIVE, None),
            ]
            if names and all(name in known for name in names):
                runs.append((GenerationMode.POSITIVE, {name: known[name] for name in names}))
            for mode, fixed in runs:
                run_operation(
                    operation, mode, base_url, admin_token, examples_per_operation, tally,
                    session, seed, fixed,
                )  # fmt: skip
