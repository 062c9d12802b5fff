"""`optiview logs import` in this process, on a real server's database (SQLite and
PostgreSQL), with real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.cli import main
from ingest.logs import importer
from tests.ingest.collect.conftest import CHROME, GPTBOT, Site
from tests.ingest.logs.conftest import (
    CHATGPT_USER,
    CHATGPT_USER_IP,
    CLAUDEBOT,
    CURL,
    GPTBOT_IP,
    nginx_line,
    write_log,
)


def nginx_file(folder: Path, compress: bool = False) -> Path:
    lines = [
        nginx_line("/pricing", GPTBOT, ip=GPTBOT_IP),
        nginx_line("/docs/a.md", CLAUDEBOT, status=404, second=1),
        nginx_line("/blog/post?utm=x", CHATGPT_USER, ip=CHATGPT_USER_IP, second=2),
        nginx_line("/", CURL, second=3),
        nginx_line("/", CHROME, second=4),  # a person
        nginx_line("/", CHROME, second=4),
        nginx_line("/style.css", GPTBOT, ip=GPTBOT_IP, second=5),
        nginx_line("/old", GPTBOT, ip=GPTBOT_IP, status=301, second=6),
        nginx_line("/gone", GPTBOT, ip=GPTBOT_IP, status=500, second=7),
        nginx_line("/form", GPTBOT, ip=GPTBOT_IP, method="POST", second=8),
        "garbage that is not a log line",
        # The same request twice in one second: two hits, both stored, once each.
        nginx_line("/pricing", GPTBOT, ip=GPTBOT_IP, second=9),
        nginx_line("/pricing", GPTBOT, ip=GPTBOT_IP, second=9),
    ]
    return write_log(folder / ("access.log.gz" if compress else "access.log"), lines, compress)


EXPECTED = [
    ("/pricing", "ai_crawler", "GPTBot", "ip_range"),
    ("/docs/a.md", "ai_crawler", "ClaudeBot", "none"),
    ("/blog/post", "ai_agent", "ChatGPT-User", "ip_range"),
    ("/", "bot", None, None),
    ("/pricing", "ai_crawler", "GPTBot", "ip_range"),
    ("/pricing", "ai_crawler", "GPTBot", "ip_range"),
]


def summary_of(text: str) -> dict[str, int]:
    counts = {}
    for line in text.splitlines():
        *name, count = line.split()
        if count.isdigit():
            counts[" ".join(name)] = int(count)
    return counts


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_an_nginx_file_lands_once(
    cli_env: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str], compress: bool
) -> None:
    site = cli_env
    path = nginx_file(tmp_path, compress)
    args = ["logs", "import", "--property", str(site.property_id), "--format", "nginx", str(path)]
    assert main(args) == 0
    first = summary_of(capsys.readouterr().out)
    assert first == {
        "lines read": 13,
        "stored": 6,
        "ai_agent": 1,
        "ai_crawler": 4,
        "bot": 1,
        "skipped": 7,
        "asset": 1,
        "error_status": 1,
        "human": 2,
        "not_get": 1,
        "redirect": 1,
        "unparseable": 1,
        "duplicates": 0,
    }
    assert site.events("path, ua_class, crawler, crawler_verified") == EXPECTED
    assert main(args) == 0  # again: nothing new
    second = summary_of(capsys.readouterr().out)
    assert second["stored"] == 0
    assert second["duplicates"] == 6
    assert len(site.events()) == 6


def test_humans_included_are_stored(cli_env: Site, tmp_path: Path) -> None:
    site = cli_env
    path = write_log(tmp_path / "a.log", [nginx_line("/", CHROME)])
    args = ["logs", "import", "--property", str(site.property_id), "--format", "apache"]
    assert main([*args, "--include-humans", str(path)]) == 0
    assert site.events("path, ua_class, browser") == [("/", "human", "Chrome")]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "cannot read"),
        ("property", "property 999999 does not exist"),
        ("format", "invalid choice"),
    ],
)
def test_refusals_say_why_in_one_line(
    cli_env: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    site = cli_env
    path = write_log(tmp_path / "a.log", [nginx_line("/", GPTBOT)])
    prop, fmt, file = str(site.property_id), "nginx", str(path)
    if case == "missing":
        file = str(tmp_path / "nope.log")
    elif case == "property":
        prop = "999999"
    else:
        fmt = "iis"
    args = ["logs", "import", "--property", prop, "--format", fmt, file]
    if case == "format":
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2  # argparse's usage error
    else:
        assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err
    assert site.events() == []


def test_a_batch_larger_than_the_writers_queue_is_stored_in_parts(
    cli_env: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = cli_env
    monkeypatch.setenv("OPTIVIEW_QUEUE_MAX_EVENTS", "50")  # the least allowed
    # Two batches of lines under way at once, each larger than the queue.
    count = 2 * importer.BATCH_LINES // 50
    monkeypatch.setattr(importer, "BATCH_LINES", count // 2)
    lines = [nginx_line(f"/p/{n}", GPTBOT, ip=GPTBOT_IP, second=n % 3600) for n in range(count)]
    path = write_log(tmp_path / "bots.log", lines)
    args = ["logs", "import", "--property", str(site.property_id), "--format", "nginx"]
    assert main([*args, str(path)]) == 0
    assert len(site.events()) == count
