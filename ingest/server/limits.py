"""Open files and connections: raise the soft limit to the hard one at start (as Go's runtime
does), and keep the connections of one process below it so that accept() never runs out."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

from ingest.config import ServerSettings, load_server_settings

# Descriptors kept for what is not a client: the listening socket, the SQLite files of each
# connection (database, -wal, -shm), the metrics files, pipes, the log.
FD_RESERVE = 256
MIN_CONNECTIONS = 16


@dataclass(frozen=True)
class Limits:
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int
    max_connections: int


def raise_fd_limit() -> tuple[int, int]:
    """Lift the soft open-file limit to the hard one; the (before, after) soft limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard


def connection_bound(fd_limit: int, configured: int | None) -> int:
    """Connections one process may hold: what is configured, never more than fits below the
    open-file limit with the reserve kept."""
    fits = max(fd_limit - FD_RESERVE, fd_limit // 2, MIN_CONNECTIONS)
    return fits if configured is None else min(configured, fits)


def current_limits(settings: ServerSettings | None = None) -> Limits:
    """The limits of this process, from the settings (the environment by default, which
    workers inherit) and the soft open-file limit they inherit too."""
    server = settings or load_server_settings(os.environ)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    fd_limit = soft if soft != resource.RLIM_INFINITY else 1 << 20
    return Limits(
        header_timeout_s=server.header_timeout_s,
        body_timeout_s=server.body_timeout_s,
        max_header_bytes=server.max_header_bytes,
        max_connections=connection_bound(fd_limit, server.max_connections),
    )
