"""`optiview crawlers refresh` and `status` against a real local HTTP server serving the
operators' files (each under /<host>/<path>, as --base-url fetches them)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ingest.cli import main
from ingest.crawlers.ranges import REFRESHED, VENDORED, build_index, load_lists
from ingest.crawlers.refresh import SOURCES, SOURCES_BY_NAME, destination
from ingest.crawlers.sources import KIND_KEYS

HOUR = 3600


def range_file(prefix: str, created: datetime) -> bytes:
    doc = {"creationTime": created.isoformat(), "prefixes": [{"ipv4Prefix": prefix}]}
    return json.dumps(doc).encode()


def key_directory() -> bytes:
    public = Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}).encode()


class Files:
    """What the local server answers: path -> (status, body); a path missing is a 404."""

    def __init__(self) -> None:
        self.served: dict[str, tuple[int, bytes]] = {}
        self.requests: list[str] = []

    def put(self, source_name: str, body: bytes, status: int = 200) -> None:
        url = urlsplit(SOURCES_BY_NAME[source_name].url)
        self.served[f"/{url.netloc}{url.path}"] = (status, body)


@pytest.fixture
def operators() -> Iterator[tuple[str, Files]]:
    files = Files()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            files.requests.append(self.path)
            status, body = files.served.get(self.path, (404, b"not here"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()


def serve_all(files: Files, created: datetime) -> None:
    for number, source in enumerate(SOURCES):
        if source.kind == KIND_KEYS:
            files.put(source.name, key_directory())
        else:
            files.put(source.name, range_file(f"198.18.{number}.0/24", created))


def refresh(base: str, data: Path, *extra: str) -> int:
    return main(["crawlers", "refresh", "--base-url", base, "--data-dir", str(data), *extra])


def status(data: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["crawlers", "status", "--data-dir", str(data), "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def test_refresh_fetches_every_source_and_status_shows_it(
    operators: tuple[str, Files], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, files = operators
    created = datetime.now(UTC) - timedelta(hours=5)
    serve_all(files, created)
    assert refresh(base, tmp_path) == 0
    err = capsys.readouterr().err
    assert f"{len(SOURCES)} of {len(SOURCES)} refreshed" in err
    assert "openai-gptbot: saved 1 prefixes" in err
    assert "/openai.com/gptbot.json" in files.requests
    for source in SOURCES:
        assert destination(tmp_path, source).is_file(), source.name
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind

    rows = status(tmp_path, capsys)
    gptbot = rows["openai-gptbot"]
    assert (gptbot["copy"], gptbot["entries"]) == (REFRESHED, 1)
    assert 4.9 / 24 < gptbot["age_days"] < 5.1 / 24
    assert rows["chatgpt.com"]["copy"] == REFRESHED
    assert rows["chatgpt.com"]["entries"] == 1

    # The service's lookup now uses the refreshed lists.
    index = build_index(load_lists(tmp_path))
    number = [s.name for s in SOURCES].index("openai-gptbot")
    assert index.lists_containing(f"198.18.{number}.7") == {"openai-gptbot"}
    assert index.lists_containing("20.171.206.9") == set()


def test_a_broken_download_leaves_the_previous_copy(
    operators: tuple[str, Files], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, files = operators
    good = range_file("198.18.0.0/24", datetime.now(UTC))
    files.put("openai-gptbot", good)
    files.put("openai-searchbot", good)
    assert refresh(base, tmp_path, "--only", "openai-gptbot", "openai-searchbot") == 0
    gptbot = destination(tmp_path, SOURCES_BY_NAME["openai-gptbot"])
    searchbot = destination(tmp_path, SOURCES_BY_NAME["openai-searchbot"])
    capsys.readouterr()

    files.put("openai-gptbot", b'{"creationTime": "2027-01-01T00:00:00Z", "prefixes": [')
    files.put("openai-searchbot", b'{"prefixes": []}')
    files.put("openai-chatgpt-user", b"<html>maintenance</html>", status=503)
    only = ("openai-gptbot", "openai-searchbot", "openai-chatgpt-user")
    assert refresh(base, tmp_path, "--only", *only) == 1
    err = capsys.readouterr().err
    assert "openai-gptbot: FAILED, previous copy kept" in err and "not JSON" in err
    assert "openai-searchbot: FAILED" in err and "empty" in err
    assert "openai-chatgpt-user: FAILED" in err and "HTTP 503" in err
    assert "0 of 3 refreshed; failed: openai-gptbot, openai-searchbot, openai-chatgpt-user" in err
    assert gptbot.read_bytes() == good and searchbot.read_bytes() == good
    assert not destination(tmp_path, SOURCES_BY_NAME["openai-chatgpt-user"]).exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_broken_key_directory_is_not_saved(
    operators: tuple[str, Files], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, files = operators
    files.put("chatgpt.com", b'{"keys": []}')
    assert refresh(base, tmp_path, "--only", "chatgpt.com") == 1
    assert "chatgpt.com: FAILED" in capsys.readouterr().err
    assert not destination(tmp_path, SOURCES_BY_NAME["chatgpt.com"]).exists()
    assert status(tmp_path, capsys)["chatgpt.com"]["copy"] == VENDORED


def test_only_the_named_sources_are_fetched(operators: tuple[str, Files], tmp_path: Path) -> None:
    base, files = operators
    serve_all(files, datetime.now(UTC))
    assert refresh(base, tmp_path, "--only", "bing-bingbot") == 0
    assert files.requests == ["/www.bing.com/toolbox/bingbot.json"]


def test_an_unknown_source_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["crawlers", "refresh", "--data-dir", str(tmp_path), "--only", "nobody"])
    assert exited.value.code == 2


def test_an_unreachable_server_is_an_error_per_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A port nobody listens on (bound, never accepting: refused at once).
    assert refresh("http://127.0.0.1:9", tmp_path, "--only", "bing-bingbot", "--timeout", "2") == 1
    assert "bing-bingbot: FAILED, previous copy kept" in capsys.readouterr().err


def test_status_without_refreshed_copies_shows_the_vendored_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = status(tmp_path, capsys)
    assert rows["openai-gptbot"]["copy"] == VENDORED
    assert rows["openai-gptbot"]["entries"] == 21
    assert rows["openai-gptbot"]["created"].startswith("2026-09-02")
    capsys.readouterr()
    assert main(["crawlers", "status", "--data-dir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "openai-gptbot" in table and "https://openai.com/gptbot.json" in table
