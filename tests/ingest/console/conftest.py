"""Browser fixtures of the console's tests: the tag tests' chromium and partner pages, with
Playwright started once per module, not per session. Two sync Playwright drivers cannot run
at once, and a session-wide one of this folder would still be running when the next module,
or the tag's tests, start their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Playwright, sync_playwright

from tests.alerts.conftest import slack_module  # noqa: F401 (the Slack stand-in, shared)
from tests.tag.conftest import CHROMIUM, browser, pages  # noqa: F401 (fixtures, shared)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./scripts/test installs Debian's chromium (as root)")
    with sync_playwright() as driver:
        yield driver
