"""Run an ASGI app factory under uvicorn or hypercorn, with the limits of ingest.server.limits."""

from __future__ import annotations

import math
import signal
from types import FrameType

from ingest.server.limits import current_limits


def run_server(factory: str, host: str, port: int, workers: int, server: str) -> int:
    """Serve the ASGI app that `factory` ("module:function") builds. The benchmarks run their
    bare baseline app through here too, so both get the same server settings.

    The limits come from the environment, as in each worker, which reads them again."""
    limits = current_limits()
    if server == "hypercorn":
        from hypercorn.run import run

        from ingest.server.hypercorn_config import hypercorn_config

        return int(run(hypercorn_config(factory, host, port, workers, limits)))
    import uvicorn

    from ingest.server.uvicorn_http import GuardedHttpToolsProtocol

    # uvicorn drains on SIGTERM, then restores the handler it found and raises the signal
    # again; finding this one, the process exits 0 (and runs its atexit clean-up) instead of
    # dying by the signal.
    signal.signal(signal.SIGTERM, _stopped)

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        loop="uvloop",
        # Reads its limits from the environment in each worker (ingest.server.limits).
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=math.ceil(limits.header_timeout_s),
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    return 0


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
