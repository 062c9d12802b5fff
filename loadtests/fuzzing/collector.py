"""The collector generator against a real key: every answer must be a documented status with
the documented JSON body; 202 must count exactly the events sent."""

from __future__ import annotations

import orjson
import requests
from hypothesis import given
from hypothesis import seed as fixed_seed

from ingest.errors import ErrorCode
from loadtests.fuzzing.bodies import Request, Target
from loadtests.fuzzing.bodies import requests as collector_requests
from loadtests.fuzzing.openapi import TIMEOUT_S, hypothesis_settings
from loadtests.fuzzing.tally import Finding, Tally

OPERATION = "POST /v1/events (generator)"
DOCUMENTED = frozenset({202, 400, 401, 403, 413, 415, 429})
CODES = frozenset(code.value for code in ErrorCode)


def problem(status: int, content_type: str, raw: bytes) -> str | None:
    """What is wrong with an answer, or None."""
    if status not in DOCUMENTED:
        return f"status {status} is not documented for the collector"
    if content_type.split(";")[0].strip() != "application/json":
        return f"content type {content_type!r}"
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "body is not JSON"
    if status == 202:
        if not isinstance(body.get("accepted"), int):
            return "202 without an integer accepted"
        return None
    if body.get("error") not in CODES or not isinstance(body.get("detail"), str):
        return "error body is not {error: <code>, detail: <string>}"
    return None


def _reproduce(url: str, sent: Request) -> str:
    headers = " ".join(f"-H {f'{k}: {v}'!r}" for k, v in sent.headers.items())
    return f"curl -X POST {url!r} {headers} --data-binary {sent.body[:2000]!r}"


def run_collector(
    base_url: str, target: Target, examples: int, tally: Tally, seed: int | None = None
) -> None:
    with requests.Session() as session:

        @hypothesis_settings(examples, seed)
        @given(sent=collector_requests(target))
        def one(sent: Request) -> None:
            url = base_url + "/v1/events" + ("?debug=1" if sent.debug else "")
            try:
                answer = session.post(url, data=sent.body, headers=sent.headers, timeout=TIMEOUT_S)
            except requests.RequestException as exc:
                tally.found(Finding("transport", OPERATION, None, repr(exc), _reproduce(url, sent)))
                return
            tally.answered(answer.status_code)
            wrong = problem(
                answer.status_code, answer.headers.get("content-type", ""), answer.content
            )
            if wrong or answer.status_code >= 500:
                kind = "server_error" if answer.status_code >= 500 else "nonconforming"
                detail = f"{wrong} | answer: {answer.text[:300]!r}"
                tally.found(
                    Finding(kind, OPERATION, answer.status_code, detail, _reproduce(url, sent))
                )

        if seed is not None:
            one = fixed_seed(seed)(one)
        one()
