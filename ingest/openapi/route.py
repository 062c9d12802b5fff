"""GET /openapi.json: the document, serialized once per process."""

from __future__ import annotations

from functools import cache

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingest.openapi.document import build_document


@cache
def _body() -> bytes:
    return orjson.dumps(build_document())


async def openapi_json(request: Request) -> Response:
    return Response(_body(), media_type="application/json")
