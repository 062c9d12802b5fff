"""The collector tests' provisioned site on a real server, on SQLite and on PostgreSQL, and
log lines in each format."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.ingest.collect.conftest import (  # noqa: F401 (fixtures)
    CHROME,
    GPTBOT,
    Site,
    postgres_collect_server,
    server,
    site,
    sqlite_collect_server,
)

CLAUDEBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0;"
    " +claudebot@anthropic.com)"
)
CHATGPT_USER = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0;"
    " +https://openai.com/bot"
)
CURL = "curl/8.5.0"
# Addresses in the operators' published ranges (ingest/crawlers/data/ranges), and one outside.
GPTBOT_IP = "132.196.86.5"
CHATGPT_USER_IP = "13.65.138.113"
UNLISTED_IP = "93.184.216.34"  # public, in no crawler operator's list
NOW_S = 1_764_583_200  # 2025-12-01T10:00:00Z


def nginx_line(
    path: str,
    user_agent: str,
    *,
    status: int = 200,
    method: str = "GET",
    second: int = 0,
    ip: str = "203.0.113.7",
    referrer: str = "-",
) -> str:
    minute, sec = divmod(second, 60)
    return (
        f'{ip} - - [01/Dec/2025:10:{minute:02d}:{sec:02d} +0000] "{method} {path} HTTP/1.1"'
        f' {status} 1234 "{referrer}" "{user_agent}"'
    )


def cloudflare_line(host: str, uri: str, user_agent: str, **fields: Any) -> bytes:
    record = {
        "ClientIP": UNLISTED_IP,
        "ClientRequestHost": host,
        "ClientRequestMethod": "GET",
        "ClientRequestURI": uri,
        "ClientRequestUserAgent": user_agent,
        "ClientRequestReferer": "",
        "EdgeResponseStatus": 200,
        "EdgeStartTimestamp": "2025-12-01T10:00:00Z",
        "RayID": "8f0e1d2c3b4a5968",
        **fields,
    }
    return orjson.dumps(record)


def write_log(path: Path, lines: list[str], compress: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def cli_env(
    site: Site,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Site:
    """`optiview` in this process, on the site's server's database."""
    for name, value in site.server.env.items():
        if name.startswith(("OPTIVIEW_", "KEY_HASH")):
            monkeypatch.setenv(name, value)
    return site
