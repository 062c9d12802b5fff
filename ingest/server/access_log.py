"""`optiview serve --access-log`: one line per request at INFO, the same under uvicorn and
hypercorn. Ours rather than theirs: hypercorn's access log takes the error log's level (so
INFO lines would bring its debug chatter along), uvicorn's has no duration, and the two
formats differ. Off by default: a line per request costs the collector a write to stderr."""

from __future__ import annotations

import logging
import re
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER = "optiview.access"
# The app factory that `serve` hands to the server when the access log is on.
FACTORY = f"{__name__}:create_app"

log = logging.getLogger(LOGGER)

# A request target is the client's to choose: quotes, backslashes and anything unprintable
# are escaped, so that one request is always one line that parses the same way.
_UNSAFE = re.compile(rb'[\x00-\x20"\\\x7f-\xff]')


def _printable(raw: bytes) -> str:
    return _UNSAFE.sub(lambda m: b"\\x%02x" % m.group(0)[0], raw).decode("ascii")


class AccessLog:
    """Logs `client "METHOD path?query HTTP/version" status duration` once the answer is sent
    (status 0 when the app sent none, e.g. the client went away first)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            client = scope.get("client")
            path = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"")
            log.info(
                '%s "%s %s HTTP/%s" %d %.1f ms',
                f"{client[0]}:{client[1]}" if client else "-",
                _printable(scope["method"].encode()),
                _printable(path.split(b"?", 1)[0] + (b"?" + query if query else b"")),
                scope.get("http_version", "1.1"),
                status,
                (time.perf_counter() - started) * 1000,
            )


def configure() -> None:
    """INFO lines to stderr, whatever logging the server set up in this worker process."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s optiview: %(levelname)s: access %(message)s")
        )
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def create_app() -> ASGIApp:
    """The app of ingest.app, logging each request; built in each worker process."""
    from ingest.app import create_app as create_ingest_app

    configure()
    return AccessLog(create_ingest_app())
