"""The connection bound below the open-file limit, and the server settings."""

from __future__ import annotations

import pytest

from ingest.config import ConfigError, ServerSettings, load_server_settings
from ingest.server.limits import FD_RESERVE, connection_bound


@pytest.mark.parametrize(
    ("fd_limit", "configured", "bound"),
    [
        (8192, None, 8192 - FD_RESERVE),
        (8192, 100, 100),
        (8192, 100_000, 8192 - FD_RESERVE),  # never past the open-file limit
        (300, None, 150),  # a small limit keeps half for connections
        (10, None, 16),
    ],
)
def test_connection_bound(fd_limit: int, configured: int | None, bound: int):
    assert connection_bound(fd_limit, configured) == bound


def test_server_settings_defaults_and_overrides():
    assert load_server_settings({}) == ServerSettings(5.0, 10.0, 16384, None)
    assert load_server_settings(
        {
            "OPTIVIEW_HEADER_TIMEOUT_S": "1.5",
            "OPTIVIEW_BODY_TIMEOUT_S": "3",
            "OPTIVIEW_MAX_HEADER_BYTES": "8192",
            "OPTIVIEW_MAX_CONNECTIONS": "500",
        }
    ) == ServerSettings(1.5, 3.0, 8192, 500)


@pytest.mark.parametrize(
    "name", ["OPTIVIEW_HEADER_TIMEOUT_S", "OPTIVIEW_MAX_HEADER_BYTES", "OPTIVIEW_MAX_CONNECTIONS"]
)
def test_bad_server_settings_name_the_variable(name: str):
    with pytest.raises(ConfigError, match=name):
        load_server_settings({name: "0"})
