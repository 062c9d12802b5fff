"""The baseline: a bare Starlette app answering 204 to the collector's route, with nothing
behind it. Benchmarks serve it with the collector's exact server settings and report the
collector's throughput as a share of this one's."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def accept(request: Request) -> Response:
    await request.body()  # read the body like the collector does
    return Response(status_code=204)


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/events", accept, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


if __name__ == "__main__":
    import argparse

    from ingest.serve import run_server

    parser = argparse.ArgumentParser(description="serve the bare baseline app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server", default="uvicorn")
    args = parser.parse_args()
    raise SystemExit(
        run_server(
            "loadtests.bare_app:create_app", "127.0.0.1", args.port, args.workers, args.server
        )
    )
