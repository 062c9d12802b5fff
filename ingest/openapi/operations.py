"""Every operation of the API as a row: method, path, parameters, body and answers.

Answers name a component schema for JSON, `None` for an empty body, or a media type
(`text/...`, `application/javascript`) for a non-JSON one; a tuple of those when the
request chooses among them. Every status >= 400 answers the
Error schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.logs.formats import HTTP_FORMATS
from ingest.openapi.schemas import MAX_SQLITE_INTEGER
from ingest.stats import counts, params, timebuckets

ADMIN = "adminToken"
KEY_SECRET = "keySecret"  # noqa: S105 (the scheme's name, not a secret)
READ_TOKEN = "readToken"  # noqa: S105 (the scheme's name, not a secret)


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # path, query or header
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    answers: dict[int, str | tuple[str, ...] | None]  # a tuple: one answer in several types
    params: tuple[Param, ...] = ()
    body: str | None = None  # a component schema
    security: tuple[str, ...] = (ADMIN,)  # empty: public
    optional_security: bool = False  # also callable without any scheme
    text_plain_body: bool = False  # also accepted as text/plain (the tag avoids a preflight)
    headers: dict[int, tuple[str, ...]] = field(default_factory=dict)


_STRING = {"type": "string"}
DEBUG = Param("debug", "query", _STRING, "`1` explains each step in the answer")
ORIGIN = Param("Origin", "header", _STRING, "the page's origin, for a browser request")
ORG_ID = Param("org_id", "path", _STRING, required=True)
PROJECT_ID = Param("project_id", "path", _STRING, required=True)
KEY_ID = Param("key_id", "path", _STRING, required=True)
PROPERTY_ID = Param(
    "property_id",
    "path",
    {"type": "integer", "minimum": 1, "maximum": MAX_SQLITE_INTEGER},
    required=True,
)
PROPERTY_QUERY = Param(
    "property_id",
    "query",
    {"type": "integer", "minimum": 1, "maximum": MAX_SQLITE_INTEGER},
    "default: the project's default property",
)

CONFIRM = Param(
    "confirm",
    "query",
    _STRING,
    "the id being deleted, repeated; without it, 400 confirmation_required saying what would go",
)

# Every admin call: no or a wrong token, and a database that is locked or failing.
_ADMIN = {401: None, 503: None}
_READ = {**_ADMIN, 404: None}
_WRITE = {**_ADMIN, 400: None, 408: None, 413: None}
# Every admin write may also meet another node's write of the same record committed at once:
# 409, repeat it (ingest.admin.routes._write).
_CHANGE = {**_READ, 409: None}
_RETRY = ("Retry-After",)

PUBLIC: tuple[Operation, ...] = (
    Operation(
        "get",
        "/v1/tag.js",
        "The hosted tag (HEAD too)",
        {200: "application/javascript", 304: None},
        params=(DEBUG, Param("If-None-Match", "header", _STRING)),
        security=(),
        headers={200: ("ETag", "Cache-Control"), 304: ("ETag",)},
    ),
    Operation(
        "post",
        "/v1/events",
        "Send events; 202 only after they are committed",
        {
            202: "Accepted",
            400: None,
            401: None,
            403: None,
            408: None,
            413: None,
            415: None,
            429: None,
            503: None,
        },
        params=(DEBUG, ORIGIN),
        body="EventBatch",
        security=(KEY_SECRET,),
        optional_security=True,
        text_plain_body=True,
        headers={429: _RETRY, 503: _RETRY},
    ),
    Operation(
        "post",
        "/v1/logs",
        "Send access log lines (NDJSON, gzip allowed); 202 only after they are committed",
        {
            202: "LogsAccepted",
            400: None,
            401: None,
            403: None,
            408: None,
            409: None,
            413: None,
            415: None,
            429: None,
            503: None,
        },
        params=(
            Param("key_id", "query", _STRING, required=True),
            Param("project_id", "query", _STRING, required=True),
            Param(
                "property_id",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_SQLITE_INTEGER},
                required=True,
            ),
            Param("format", "query", {"enum": list(HTTP_FORMATS)}, required=True),
            Param("humans", "query", _STRING, "`1` stores people's hits too (default: skipped)"),
            DEBUG,
            Param("Content-Encoding", "header", {"enum": ["gzip", "identity"]}),
        ),
        body="application/x-ndjson",
        security=(KEY_SECRET,),
        headers={429: _RETRY, 503: _RETRY},
    ),
    Operation(
        "options",
        "/v1/events",
        "CORS preflight: 204 only for the site of an active property",
        {204: None, 403: None, 503: None},
        params=(ORIGIN,),
        security=(),
    ),
    Operation(
        "get", "/health", "ok, degraded or down", {200: "Health", 503: "Health"}, security=()
    ),
    Operation("get", "/metrics", "Prometheus text format", {200: "text/plain"}, security=()),
    Operation("get", "/openapi.json", "This document", {200: "OpenAPI"}, security=()),
)

ADMIN_OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/orgs", "Create an organization", {201: "OrgWritten", **_WRITE, 409: None},
              body="NewOrg"),
    Operation("get", "/orgs", "Every organization", {200: "Orgs", **_ADMIN}),
    Operation("get", "/orgs/{org_id}", "One organization with its projects",
              {200: "OrgDetail", **_READ}, params=(ORG_ID,)),
    Operation("patch", "/orgs/{org_id}", "Change an organization's name, domain or plan",
              {200: "OrgWritten", **_WRITE, 404: None, 409: None}, params=(ORG_ID,),
              body="OrgChanges"),
    Operation("delete", "/orgs/{org_id}", "Delete an organization with all its data",
              {200: "Removal", **_CHANGE, 400: None}, params=(ORG_ID, CONFIRM)),
    Operation("post", "/orgs/{org_id}/projects", "Create a project and its default property",
              {201: "ProjectCreated", **_WRITE, 404: None, 409: None},
              params=(ORG_ID,), body="NewProject"),
    Operation("get", "/orgs/{org_id}/projects", "The organization's projects",
              {200: "Projects", **_READ}, params=(ORG_ID,)),
    Operation("get", "/projects/{project_id}", "One project with its properties",
              {200: "ProjectDetail", **_READ}, params=(PROJECT_ID,)),
    Operation("patch", "/projects/{project_id}", "Change a project's name or description",
              {200: "Project", **_WRITE, 404: None, 409: None}, params=(PROJECT_ID,),
              body="ProjectChanges"),
    Operation("delete", "/projects/{project_id}", "Delete a project with all its data",
              {200: "Removal", **_CHANGE, 400: None}, params=(PROJECT_ID, CONFIRM)),
    Operation("post", "/projects/{project_id}/properties", "Add a property",
              {201: "Property", **_WRITE, 404: None, 409: None},
              params=(PROJECT_ID,), body="NewProperty"),
    Operation("get", "/projects/{project_id}/properties", "The project's properties",
              {200: "Properties", **_READ}, params=(PROJECT_ID,)),
    Operation("get", "/projects/{project_id}/sources", "Every known AI source with its flag",
              {200: "Sources", **_READ}, params=(PROJECT_ID,)),
    Operation("put", "/projects/{project_id}/sources", "Choose the AI sources attributed",
              {200: "Sources", **_WRITE, 404: None, 409: None},
              params=(PROJECT_ID,), body="SourcesUpdate"),
    Operation("get", "/projects/{project_id}/install",
              "The install snippet: JSON, or the snippet alone as text/html",
              {200: ("Install", "text/html"), **_READ, 400: None, 409: None},
              params=(PROJECT_ID, PROPERTY_QUERY,
                      Param("key_id", "query", _STRING, "default: the newest active key"),
                      Param("format", "query", {"enum": ["json", "html"]},
                            "`html`: the snippet alone as text/html; default: JSON, or"
                            " text/html when the Accept header prefers it to JSON"))),
    Operation("get", "/projects/{project_id}/install/verify", "Has an event arrived",
              {200: "InstallVerification", **_READ, 400: None},
              params=(PROJECT_ID, PROPERTY_QUERY)),
    Operation("get", "/projects/{project_id}/onboarding-status", "The runbook's checklist",
              {200: "OnboardingStatus", **_READ}, params=(PROJECT_ID,)),
    Operation("post", "/projects/{project_id}/read-tokens",
              "Create a read token for the read API; the token is shown once",
              {201: "ReadTokenWithToken", **_WRITE, 404: None, 409: None},
              params=(PROJECT_ID,), body="NewReadToken"),
    Operation("get", "/projects/{project_id}/read-tokens", "The project's read tokens, never"
              " the tokens", {200: "ReadTokens", **_READ}, params=(PROJECT_ID,)),
    Operation("delete", "/projects/{project_id}/read-tokens/{token_id}",
              "Revoke a read token (idempotent)", {200: "ReadToken", **_CHANGE},
              params=(PROJECT_ID, Param("token_id", "path", _STRING, required=True))),
    Operation("get", "/properties/{property_id}", "One property with its keys",
              {200: "PropertyDetail", **_READ, 400: None}, params=(PROPERTY_ID,)),
    Operation("patch", "/properties/{property_id}", "Deactivate or reactivate a property",
              {200: "Property", **_WRITE, 404: None, 409: None}, params=(PROPERTY_ID,),
              body="PropertyChanges"),
    Operation("delete", "/properties/{property_id}", "Delete a property with all its data",
              {200: "Removal", **_CHANGE, 400: None}, params=(PROPERTY_ID, CONFIRM)),
    Operation("post", "/properties/{property_id}/keys", "Create a key; its secret is shown once",
              {201: "KeyWithSecret", **_WRITE, 404: None, 409: None},
              params=(PROPERTY_ID,), body="NewKey"),
    Operation("get", "/properties/{property_id}/keys", "The property's keys, never secrets",
              {200: "Keys", **_READ, 400: None}, params=(PROPERTY_ID,)),
    Operation("get", "/keys/{key_id}", "One key", {200: "Key", **_READ}, params=(KEY_ID,)),
    Operation("post", "/keys/{key_id}/revoke", "Revoke a key (idempotent)",
              {200: "Key", **_CHANGE}, params=(KEY_ID,)),
    Operation("post", "/keys/{key_id}/rotate", "A new secret for the same key id",
              {200: "KeyWithSecret", **_READ, 409: None}, params=(KEY_ID,)),
    Operation("get", "/health", "Health checks, environment, Slack and recent alerts",
              {200: "AdminHealth", 503: "AdminHealth", 401: None}),
    Operation("post", "/alerts/test", "Send a test alert to Slack",
              {200: "TestAlert", **_ADMIN, 502: None}),
)  # fmt: skip
ADMIN_PREFIX = "/api/admin"

_TIME_PARAM = "ISO 8601 (a time without an offset is local to tz) or a local date YYYY-MM-DD"
STATS_PARAMS = (
    Param("from", "query", _STRING, f"{_TIME_PARAM}; default: 7 days before `to`"),
    Param("to", "query", _STRING, f"{_TIME_PARAM}; a date includes that whole day; default: now"),
    Param("tz", "query", _STRING, "IANA time zone of buckets, dates and answers; default UTC"),
    Param(
        "property_id",
        "query",
        {"type": "integer", "minimum": 1, "maximum": MAX_SQLITE_INTEGER},
        "one property of the project; default: all",
    ),
    Param("class", "query", {"enum": list(params.CLASS_CHOICES)}, "visitor class; default human"),
    Param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": params.MAX_LIMIT},
        "rows per page, default 50",
    ),
    Param(
        "offset",
        "query",
        {"type": "integer", "minimum": 0, "maximum": params.MAX_OFFSET},
        "rows to skip, default 0",
    ),
)
_METRIC = Param("metric", "query", {"enum": list(params.METRICS)}, "default events")
_STATS_ANSWERS = {401: None, 403: None, 404: None, 400: None, 503: None}
STATS_PREFIX = "/api/v1/projects/{project_id}/stats"


def _stats(path: str, summary: str, answer: str, *extra: Param) -> Operation:
    return Operation(
        "get",
        f"{STATS_PREFIX}/{path}",
        summary,
        {200: answer, **_STATS_ANSWERS},
        params=(PROJECT_ID, *STATS_PARAMS, *extra),
        security=(ADMIN, READ_TOKEN),
    )


STATS_OPERATIONS: tuple[Operation, ...] = (
    _stats(
        "timeseries",
        "One metric in local time buckets, zero-filled",
        "Timeseries",
        _METRIC,
        Param(
            "interval",
            "query",
            {"enum": list(timebuckets.INTERVALS)},
            f"default: hour up to 2 days, else day; at most {params.MAX_BUCKETS} buckets",
        ),
    ),
    _stats(
        "breakdown",
        "One metric by one dimension, largest first",
        "Breakdown",
        _METRIC,
        Param(
            "dimension",
            "query",
            {"enum": list(counts.DIMENSIONS)},
            "required; sessions and ai_referrals have fewer (400 names them)",
            required=True,
        ),
    ),
    _stats("content", "Pages with content types, views, AI and crawler views", "ContentStats"),
    _stats("journeys", "Sessions with their steps, newest first", "Journeys"),
    _stats("ai", "AI sources (human visitors) and AI crawlers", "AiStats"),
    _stats(
        "funnel",
        "Per page: AI crawls (verified or not), AI referral sessions, their conversions",
        "Funnel",
    ),
)
