"""GET /v1/tag.js: the prebuilt tag in the best encoding the browser accepts, with a strong
ETag (304 on If-None-Match), cache headers, and no obstacle to loading it cross-origin."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tag.build import Build

CONTENT_TYPE = "application/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"
# A partner debugging an install wants every change at once.
DEBUG_CACHE_CONTROL = "no-cache"
PREFERENCE = ("br", "gzip")


def choose_encoding(accept_encoding: str | None) -> str:
    """br, then gzip, else identity; a coding with q=0 is refused, `*` stands for the rest."""
    accepted: dict[str, float] = {}
    for part in (accept_encoding or "").split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name:
            accepted[name.strip().lower()] = quality
    for coding in PREFERENCE:
        quality = accepted.get(coding, accepted.get("*", 0.0))
        if quality > 0:
            return coding
    return "identity"


def not_modified(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


class TagEndpoint:
    def __init__(self, builds: dict[bool, Build]) -> None:
        self.builds = builds

    async def handle(self, request: Request) -> Response:
        debug = request.query_params.get("debug") == "1"
        encoding = choose_encoding(request.headers.get("accept-encoding"))
        variant = self.builds[debug].variants[encoding]
        headers = {
            "ETag": variant.etag,
            "Cache-Control": DEBUG_CACHE_CONTROL if debug else CACHE_CONTROL,
            "Vary": "Accept-Encoding",
            # Loaded by every partner site: allow it cross-origin, including under COEP.
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        }
        if encoding != "identity":
            headers["Content-Encoding"] = encoding
        if not_modified(request.headers.get("if-none-match"), variant.etag):
            return Response(status_code=304, headers=headers)
        headers["Content-Type"] = CONTENT_TYPE
        return Response(variant.body, headers=headers)
