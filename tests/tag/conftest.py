"""Browser fixtures: Debian's chromium driven by Playwright, partner pages on real domains.

Partner hosts (shop-….com, evil-….com) resolve to 127.0.0.1 through --host-resolver-rules,
so a page's Origin is a real domain; the pages come from a local HTTP server, and the tag and
collector from the test's `optiview serve`.
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.ingest.collect.conftest import Site, site  # noqa: F401 (the fixture, shared)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * 127.0.0.1",
    # Only for the https page test: its certificate is self-signed, and the test's collector
    # speaks plain http.
    "--ignore-certificate-errors",
    "--allow-running-insecure-content",
]
# Headless Chromium says "HeadlessChrome", which the collector rightly files as a bot.
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
T = TypeVar("T")


class Pages(http.server.ThreadingHTTPServer):
    """Serves the HTML that tests register by path, on any host name."""

    routes: dict[str, str]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Pages

    def do_GET(self) -> None:
        html = self.server.routes.get(self.path.split("?")[0].split("#")[0])
        body = (html or "<html><head><title>Not here</title></head></html>").encode()
        self.send_response(200 if html is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def pages() -> Iterator[Pages]:
    server = Pages(("127.0.0.1", 0), _Handler)
    server.routes = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tls_pages(pages: Pages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    """The same pages over https, with a throwaway self-signed certificate."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=partner.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = Pages(("127.0.0.1", 0), _Handler)
    server.routes = pages.routes
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# Module scope, not session: while Playwright's sync API is open it keeps an event loop marked
# running in the main thread, and an async test the same process runs later (the tests run in
# several processes, in no fixed order of modules) would refuse to start.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./scripts/test installs Debian's chromium (as root)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh Chromium with a new, empty profile for each test."""
    profile = tmp_path / "profile"
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_FLAGS,
        user_agent=DESKTOP_CHROME,
    )
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Console:
    page: Page
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", lambda message: self.lines.append(message.text))

    def optiview(self) -> list[str]:
        return [line for line in self.lines if line.startswith("[optiview]")]

    def wait_for(self, text: str, timeout_ms: int = 8000) -> list[str]:
        """The tag's lines once one contains `text`. Polls with Playwright's own wait:
        the sync API delivers console events only while one of its calls is running."""
        waited = 0
        while not any(text in line for line in self.optiview()) and waited < timeout_ms:
            self.page.wait_for_timeout(50)
            waited += 50
        return self.optiview()


def snippet(of: Site, debug: bool = False) -> str:
    """The install snippet exactly as the admin API hands it out (runbook 5.2)."""
    answer = of.admin.get(
        f"/projects/{of.project_id}/install",
        params={"property_id": of.property_id, "key_id": of.key_id},
    )
    assert answer.status_code == 200, answer.text
    html: str = answer.json()["snippet"]
    return html.replace("/v1/tag.js", "/v1/tag.js?debug=1") if debug else html


def page_html(head: str, body: str = "", title: str = "Partner page") -> str:
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}</head><body>{body}</body></html>"
    )


def eventually(probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 8.0) -> T:
    """Poll until done(probe()) or the time is up; return the last value either way."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = probe()
    return value
