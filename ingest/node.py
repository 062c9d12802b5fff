"""This process's name among the nodes sharing a database: OPTIVIEW_NODE, else host:pid.

It keys the per-minute request rollups (migrations/0011_request_rollups_per_node.sql), so
that each writer adds to rows of its own instead of every node's every commit waiting on one
row per minute; readers sum the nodes. By default per process rather than per `serve`: the
uvicorn workers of one node are writers of their own too. A name set by the operator (the
host's name in a cluster, say) is shared by that node's workers, which then share its rows as
every writer shared one row before; a restarted process with the same name adds to its
earlier rows.
"""

from __future__ import annotations

import os
import socket

NODE_SETTING = "OPTIVIEW_NODE"
MAX_NODE_LENGTH = 200


def node_name() -> str:
    configured = os.environ.get(NODE_SETTING, "").strip()
    if configured:
        return configured[:MAX_NODE_LENGTH]
    return f"{socket.gethostname()}:{os.getpid()}"
