"""POST and OPTIONS /v1/events as a plain ASGI endpoint: the collector's hot path without
Starlette's Request, Response and routing (about a sixth of a request's CPU went there).

It reads from the scope only what the stages need, hands a `Call` to routes.py and sends the
`Answer` with the very headers a Starlette Response would (same names, values and order:
the given ones lower-cased, then content-length and content-type), so every answer is the
same byte for byte. app.py sends POST and OPTIONS /v1/events here directly; Starlette's
routes name this endpoint too, for every other method's 405 and for the route listing.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from ingest.collect.routes import Answer, Call, collect, preflight
from ingest.collect.service import Collector

PATH = "/v1/events"
METHODS = ("POST", "OPTIONS")
_JSON = (b"content-type", b"application/json")


def read_call(scope: Scope, receive: Receive) -> Call:
    origins: list[str] = []
    first: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:  # ASGI servers give the names lower-cased
        if name == b"origin":
            origins.append(value.decode("latin-1"))
        first.setdefault(name, value)
    query = scope.get("query_string", b"")
    # Starlette's own parse (the last value wins, %-escapes decoded), when there is a query.
    debug = bool(query) and QueryParams(query.decode("latin-1")).get("debug") == "1"
    client = scope.get("client")
    return Call(origins, first, debug, receive, client[0] if client else None)


def raw_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    """As starlette.responses.Response.init_headers builds them for this answer."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    if answer.json:
        names = [name for name, _ in raw]
        if b"content-length" not in names and answer.status not in (204, 304):
            raw.append((b"content-length", str(len(answer.body)).encode("latin-1")))
        if b"content-type" not in names:
            raw.append(_JSON)
    return raw


class CollectorEndpoint:
    """The ASGI app of /v1/events; `collector` is set by the app's lifespan once started."""

    def __init__(self) -> None:
        self.collector: Collector | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        collector = self.collector
        if collector is None:
            raise RuntimeError("the collector is not started (the app's lifespan has not run)")
        call = read_call(scope, receive)
        if scope["method"] == "OPTIONS":
            answer = await preflight(call, collector)
        else:
            answer = await collect(call, collector)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": raw_headers(answer)}
        )
        await send({"type": "http.response.body", "body": answer.body})
