"""JSON schemas of request and answer bodies. Limits are imported from the parsers that
enforce them, so the document cannot drift from what the service accepts."""

from __future__ import annotations

from typing import Any

from ingest import fields
from ingest.admin import bodies
from ingest.collect import parse
from ingest.errors import ErrorCode
from ingest.logs.hit import SKIP_REASONS
from ingest.models import PLANS, PROPERTY_TYPES
from ingest.sources import KNOWN_SOURCES

Schema = dict[str, Any]

MAX_SQLITE_INTEGER = fields.MAX_ID


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(limit: int, minimum: int = 0) -> Schema:
    return {"type": "string", "minLength": minimum, "maxLength": limit}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _record(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


_TIME = {"type": "string", "format": "date-time"}
_OPT_TIME = _nullable(_TIME)
_ID = {"type": "string"}

EVENT = _record(
    {"type": {"enum": sorted(parse.EVENT_TYPES)}},
    {
        "name": _text(parse.MAX_NAME),
        "url": {**_text(parse.MAX_URL), "pattern": "^https?://"},
        "referrer": _text(parse.MAX_URL),
        "title": _text(parse.MAX_TITLE),
        "ts": {
            "type": "integer",
            "minimum": parse.EARLIEST_TS,
            "description": "milliseconds since the epoch; at most a day ahead; default: received",
        },
        "session_id": _text(parse.MAX_SESSION_ID),
        "props": {
            "type": "object",
            "maxProperties": parse.MAX_PROPS,
            "propertyNames": {"maxLength": parse.MAX_PROP_KEY},
            "additionalProperties": {
                "anyOf": [
                    _text(parse.MAX_PROP_VALUE),
                    {"type": ["number", "boolean", "null"]},
                ]
            },
        },
        "user_agent": {
            **_text(parse.MAX_USER_AGENT),
            "description": "honoured server-to-server only (forwarded traffic)",
        },
    },
)
EVENT["description"] = "`name` is required for custom and conversion, `url` for pageview."

EVENT_BATCH = _record(
    {
        "key_id": _text(parse.MAX_ID, 1),
        "project_id": _text(parse.MAX_ID, 1),
        "property_id": {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_SQLITE_INTEGER},
                {"type": "string", "pattern": "^[0-9]{1,18}$"},
            ],
            "description": "the tag sends the attribute's digit string",
        },
        "events": {
            "type": "array",
            "minItems": 1,
            "maxItems": parse.MAX_EVENTS,
            "items": ref("Event"),
        },
    }
)

NEW_ORG = _record(
    {
        "name": _text(bodies.MAX_NAME, 1),
        "domain": _text(bodies.MAX_DOMAIN_INPUT, 1),
        "plan": {"enum": list(PLANS)},
    }
)
NEW_PROJECT = _record(
    {"name": _text(bodies.MAX_NAME, 1), "domain": _text(bodies.MAX_DOMAIN_INPUT, 1)},
    {"description": _nullable(_text(bodies.MAX_DESCRIPTION))},
)
NEW_PROPERTY = _record(
    {"domain": _text(bodies.MAX_DOMAIN_INPUT, 1)},
    {"type": {"enum": list(PROPERTY_TYPES), "default": "website"}},
)
NEW_KEY = _record({"name": _text(bodies.MAX_NAME, 1)}, {"expires_at": _OPT_TIME})
# PATCH bodies: at least one field (the parser says which are missing or cannot change).
ORG_CHANGES = {
    **_record(
        {},
        {
            "name": _text(bodies.MAX_NAME, 1),
            "domain": _text(bodies.MAX_DOMAIN_INPUT, 1),
            "plan": {"enum": list(PLANS)},
        },
    ),
    "minProperties": 1,
}
PROJECT_CHANGES = {
    **_record(
        {},
        {
            "name": _text(bodies.MAX_NAME, 1),
            "description": _nullable(_text(bodies.MAX_DESCRIPTION)),
        },
    ),
    "minProperties": 1,
}
PROPERTY_CHANGES = _record({"active": {"type": "boolean"}})
REMOVAL = _record(
    {
        "deleted": {"enum": ["org", "project", "property"]},
        "id": {"anyOf": [_ID, {"type": "integer"}]},
        "rows": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0},
            "description": "rows deleted per table",
        },
        "total": {"type": "integer", "minimum": 0},
    }
)
SOURCES_UPDATE = _record({"enabled": {"type": "array", "items": {"enum": list(KNOWN_SOURCES)}}})

ORG = _record(
    {"id": _ID, "name": _ID, "domain": _ID, "plan": {"enum": list(PLANS)}, "created_at": _TIME}
)
PROJECT = _record(
    {
        "id": _ID,
        "org_id": _ID,
        "name": _ID,
        "domain": _ID,
        "description": _nullable(_ID),
        "default_property_id": _nullable({"type": "integer"}),
        "created_at": _TIME,
    }
)
PROPERTY = _record(
    {
        "id": {"type": "integer"},
        "project_id": _ID,
        "domain": _ID,
        "type": {"enum": list(PROPERTY_TYPES)},
        "active": {"type": "boolean"},
        "is_default": {"type": "boolean"},
        "created_at": _TIME,
    }
)
KEY = _record(
    {
        "id": _ID,
        "property_id": {"type": "integer"},
        "project_id": _ID,
        "name": _ID,
        "status": {"enum": ["active", "revoked", "expired"]},
        "created_at": _TIME,
        "expires_at": _OPT_TIME,
        "revoked_at": _OPT_TIME,
        "rotated_at": _OPT_TIME,
        "last_used_at": _OPT_TIME,
    }
)


READ_TOKEN = _record(
    {
        "id": _ID,
        "project_id": _ID,
        "name": _ID,
        "status": {"enum": ["active", "revoked"]},
        "created_at": _TIME,
        "revoked_at": _OPT_TIME,
    }
)
_COUNT = {"type": "integer", "minimum": 0}
_LOCAL_TIME = {**_TIME, "description": "ISO 8601 with the offset of tz"}
STATS_META = _record(
    {
        "tz": _ID,
        "from": _LOCAL_TIME,
        "to": _LOCAL_TIME,
        "class": {"enum": ["human", "bot", "ai_crawler", "ai_agent", "all"]},
        "property_ids": {"type": "array", "items": {"type": "integer"}},
        "data_through": _nullable(_LOCAL_TIME),
        "excluded": {
            "type": "object",
            "additionalProperties": _COUNT,
            "description": "events per class the class filter left out",
        },
    }
)
_ROWS = {"type": "array", "items": {"type": "object"}}


def _stats(**fields: Schema) -> Schema:
    return _record({**fields, "meta": ref("StatsMeta")})


# stats/funnel (ingest/stats/endpoints/funnel.py).
_VERIFICATION = {"hits": _COUNT, "verified": _COUNT, "unverified": _COUNT, "failed": _COUNT}
_FUNNEL_CRAWLS = _record(
    {
        **_VERIFICATION,
        "by_kind": {
            "type": "object",
            "additionalProperties": _COUNT,
            "description": "training, search and user always; another stored kind by its name",
        },
    }
)
_FUNNEL_PAGE_ID = {
    "property_id": {"type": "integer"},
    "path": _nullable(_ID),
    "content_type": _nullable(_ID),
}
_FUNNEL_PAGE = _record(
    {
        **_FUNNEL_PAGE_ID,
        "crawls": {
            "allOf": [
                _FUNNEL_CRAWLS,
                _record(
                    {
                        "by_operator": {
                            "type": "array",
                            "items": _record({"operator": _nullable(_ID), **_VERIFICATION}),
                        }
                    }
                ),
            ]
        },
        "referrals": _record(
            {
                "sessions": _COUNT,
                "by_source": {
                    "type": "array",
                    "items": _record({"source": _ID, "sessions": _COUNT, "conversions": _COUNT}),
                },
            }
        ),
        "conversions": _COUNT,
    }
)
_FUNNEL_OPERATOR = _record(
    {
        "operator": _nullable(_ID),
        "crawlers": {"type": "array", "items": _ID},
        "crawls": _FUNNEL_CRAWLS,
        "pages_crawled": _COUNT,
        "sources": {"type": "array", "items": _ID},
        "referral_sessions": _COUNT,
        "conversions": _COUNT,
        "pages_referred": _COUNT,
    }
)


def _page_list(item: Schema) -> Schema:
    return _record({"total": _COUNT, "rows": {"type": "array", "items": item}})


FUNNEL = _stats(
    totals=_record(
        {
            "pages": _COUNT,
            "crawls": _FUNNEL_CRAWLS,
            "referral_sessions": _COUNT,
            "conversions": _COUNT,
        }
    ),
    operators={"type": "array", "items": _FUNNEL_OPERATOR},
    pages=_page_list(_FUNNEL_PAGE),
    crawled_not_referred=_page_list(_record({**_FUNNEL_PAGE_ID, "crawls": _COUNT})),
    referred_not_crawled=_page_list(_record({**_FUNNEL_PAGE_ID, "referral_sessions": _COUNT})),
)


def _with(base: str, **extra: Schema) -> Schema:
    return {"allOf": [ref(base), _record(extra)]}


def _list_of(field: str, item: str) -> Schema:
    return _record({field: {"type": "array", "items": ref(item)}})


_STATUS = {"enum": ["ok", "degraded", "down"]}
HEALTH = _record({"status": _STATUS, "checks": {"type": "object"}})

COMPONENTS: dict[str, Schema] = {
    "Error": _record(
        {"error": {"enum": [code.value for code in ErrorCode]}, "detail": {"type": "string"}}
    ),
    "Event": EVENT,
    "EventBatch": EVENT_BATCH,
    "Accepted": _record(
        {"accepted": {"type": "integer", "minimum": 0}},
        {"debug": {"type": "object", "description": "with ?debug=1: each event's fate"}},
    ),
    "LogsAccepted": _record(
        {
            "accepted": {"type": "integer", "minimum": 0},
            "skipped": {
                "type": "object",
                "description": "lines not stored, by reason",
                "propertyNames": {"enum": list(SKIP_REASONS)},
                "additionalProperties": {"type": "integer", "minimum": 1},
            },
        },
        {"debug": {"type": "object", "description": "with ?debug=1: each line's fate"}},
    ),
    "NewOrg": NEW_ORG,
    "NewProject": NEW_PROJECT,
    "NewProperty": NEW_PROPERTY,
    "NewKey": NEW_KEY,
    "SourcesUpdate": SOURCES_UPDATE,
    "OrgChanges": ORG_CHANGES,
    "ProjectChanges": PROJECT_CHANGES,
    "PropertyChanges": PROPERTY_CHANGES,
    "Removal": REMOVAL,
    "Org": ORG,
    "Project": PROJECT,
    "Property": PROPERTY,
    "Key": KEY,
    "OrgWritten": _with(
        "Org",
        warnings={
            "type": "array",
            "items": {"type": "string"},
            "description": "e.g. another organization already claims the domain",
        },
    ),
    "OrgDetail": _with("Org", projects={"type": "array", "items": ref("Project")}),
    "ProjectCreated": {
        "allOf": [
            ref("Project"),
            _record(
                {"default_property": ref("Property")},
                {
                    "warnings": {
                        "type": "array",
                        "items": _ID,
                        "description": "present when the default property's site host is"
                        " not the project's domain (the apex)",
                    }
                },
            ),
        ]
    },
    "ProjectDetail": _with("Project", properties={"type": "array", "items": ref("Property")}),
    "PropertyDetail": _with("Property", keys={"type": "array", "items": ref("Key")}),
    "KeyWithSecret": _with(
        "Key", secret={"type": "string", "description": "shown this once; only its HMAC is kept"}
    ),
    "Orgs": _list_of("orgs", "Org"),
    "Projects": _list_of("projects", "Project"),
    "Properties": _list_of("properties", "Property"),
    "Keys": _list_of("keys", "Key"),
    "Sources": _record(
        {
            "project_id": _ID,
            "enabled": {"type": "array", "items": {"enum": list(KNOWN_SOURCES)}},
            "sources": {
                "type": "array",
                "items": _record(
                    {
                        "id": {"enum": list(KNOWN_SOURCES)},
                        "name": _ID,
                        "enabled": {"type": "boolean"},
                    }
                ),
            },
        }
    ),
    "Install": _record(
        {
            "project_id": _ID,
            "property_id": {"type": "integer"},
            "key_id": _ID,
            "tag_url": _ID,
            "snippet": _ID,
        }
    ),
    "InstallVerification": _record(
        {
            "project_id": _ID,
            "property_id": _nullable({"type": "integer"}),
            "verified": {"type": "boolean"},
            "first_event_at": _OPT_TIME,
            "last_event_at": _OPT_TIME,
        }
    ),
    "OnboardingStatus": _record(
        {
            "project_id": _ID,
            "org_id": _ID,
            "complete": {"type": "boolean"},
            "done": {"type": "integer"},
            "total": {"type": "integer"},
            "next_step": _nullable(_ID),
            "items": {"type": "array", "items": {"type": "object"}},
        },
        {"first_event_at": _OPT_TIME, "last_event_at": _OPT_TIME},
    ),
    "NewReadToken": _record({"name": _text(bodies.MAX_NAME, 1)}),
    "ReadToken": READ_TOKEN,
    "ReadTokenWithToken": _with(
        "ReadToken",
        token={"type": "string", "description": "shown this once; only its HMAC is kept"},
    ),
    "ReadTokens": _record(
        {"project_id": _ID, "read_tokens": {"type": "array", "items": ref("ReadToken")}}
    ),
    "StatsMeta": STATS_META,
    "Timeseries": _stats(
        metric=_ID,
        interval={"enum": ["minute", "hour", "day"]},
        series={
            "type": "array",
            "items": _record({"t": _LOCAL_TIME, "value": _COUNT}),
            "description": "one point per local bucket, zero-filled",
        },
        total=_COUNT,
    ),
    "Breakdown": _stats(
        dimension=_ID,
        metric=_ID,
        rows={
            "type": "array",
            "items": _record({"value": _nullable(_ID), "count": _COUNT}),
            "description": "largest first",
        },
        total_rows=_COUNT,
    ),
    "ContentStats": _stats(rows=_ROWS),
    "Journeys": _stats(rows=_ROWS),
    "AiStats": _stats(sources=_ROWS, crawlers=_ROWS),
    "Funnel": FUNNEL,
    "Health": HEALTH,
    "OpenAPI": _record({"openapi": {"const": "3.1.0"}, "paths": {"type": "object"}}),
    "AdminHealth": {
        "allOf": [
            ref("Health"),
            _record(
                {
                    "environment": _ID,
                    "database": _ID,
                    "slack": {"type": "object"},
                    "recent_alerts": {"type": "array", "items": {"type": "object"}},
                }
            ),
        ]
    },
    "TestAlert": _record(
        {"id": {"type": "integer"}, "delivery": {"enum": ["sent", "no_webhook"]}},
        {"attempts": {"type": "integer"}, "warning": _ID},
    ),
}
