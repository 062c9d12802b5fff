"""The console's AI visibility page over real HTTP from a real `optiview serve`: the funnel per
operator and per page of a hand-counted project (tests/ingest/stats/funnel_seeding.py writes its
crawler hits with their verification outcome), the two lists, paging, the empty state, a bad
range, the nav link, and a read token of another project.

Times are local to Asia/Kolkata (the browser's zone cookie), as in test_data_pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.console.visibility import crawls_per_referral, kinds_line, operators_line
from tests.conftest import ADMIN_TOKEN, INLINE_WRITER, Server, serving
from tests.ingest.console.pages import signed_in, tables
from tests.ingest.console.seeding import RANGE, Project, create
from tests.ingest.stats.funnel_seeding import seed_visibility

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def projects(db_location: Path | str) -> tuple[Path | str, dict[str, Project]]:
    seen = create(db_location, "prj_vis", sources=("chatgpt", "perplexity"))
    seed_visibility(db_location, seen)
    unseen = create(db_location, "prj_vis_empty", sources=("chatgpt",))
    return db_location, {"seen": seen, "unseen": unseen}


@pytest.fixture(scope="module")
def server(projects: tuple[Path | str, dict[str, Project]]) -> Iterator[Server]:
    yield from serving(projects[0], **INLINE_WRITER)  # it only reads what was seeded


@pytest.fixture(scope="module")
def console(server: Server) -> Iterator[httpx.Client]:
    with signed_in(server.url, tz="Asia/Kolkata") as client:
        yield client


def page(client: httpx.Client, project: str, **params: str) -> str:
    answer = client.get(f"/console/projects/{project}/visibility", params={**RANGE, **params})
    assert answer.status_code == 200, answer.text
    return answer.text


def test_operators_hand_counted(console: httpx.Client) -> None:
    found = tables(page(console, "prj_vis"))["operators"]
    assert found[0] == ["", "AI crawls", "AI referrals (people)", ""]
    assert found[1][:5] == ["Operator and its crawlers", "Total", "Verified", "Unverified",
                            "Failed"]  # fmt: skip
    assert found[2:] == [
        # operator and crawlers; crawls: total, verified, unverified, failed, kinds, pages;
        # referrals: assistants, sessions, conversions, pages; crawls per referral session
        ["OpenAI GPTBot", "3", "2", "1", "1", "training 3", "1", "chatgpt", "1", "1", "1",
         "3.0"],
        ["Perplexity PerplexityBot", "1", "0", "1", "0", "search 1", "1", "perplexity", "1",
         "0", "1", "1.0"],
        ["Anthropic ClaudeBot", "1", "0", "1", "0", "training 1", "1", "claude", "0", "0",
         "0", "—"],
    ]  # fmt: skip


def test_pages_and_lists_hand_counted(console: httpx.Client) -> None:
    html = page(console, "prj_vis")
    found = tables(html)
    assert found["pages"][2:] == [
        ["/docs/a", "docs", "4", "2", "2", "1", "training 4",
         "OpenAI 3 (2 verified), Anthropic 1", "1", "chatgpt 1", "1"],
        ["/llms.txt", "llms_txt", "1", "0", "1", "0", "search 1", "Perplexity 1", "0", "—", "0"],
        ["/pricing", "pricing", "0", "0", "0", "0", "—", "—", "1", "perplexity 1", "0"],
    ]  # fmt: skip
    assert "(1 page: AI crawlers" in html
    assert found["crawled-not-referred-table"][1:] == [["/llms.txt", "llms_txt", "1"]]
    assert found["referred-not-crawled-table"][1:] == [["/pricing", "pricing", "1"]]
    for name, shown in (("crawls", "5"), ("verified", "2"), ("unverified", "3"), ("failed", "1"),
                        ("referral_sessions", "2"), ("conversions", "1")):  # fmt: skip
        assert f'data-total="{name}"><div class="n">{shown}</div>' in html, name
    assert 'id="verification-legend"' in html
    assert 'name="class"' not in html  # no traffic filter: the funnel picks its own classes


def test_paging_the_pages(console: httpx.Client) -> None:
    html = page(console, "prj_vis", limit="1", offset="1")
    assert [row[0] for row in tables(html)["pages"][2:]] == ["/llms.txt"]
    assert "2\u20132 of 3" in html  # an en dash
    assert 'rel="prev"' in html and 'rel="next"' in html


def test_a_later_range(console: httpx.Client) -> None:
    found = tables(page(console, "prj_vis", **{"from": "2026-03-04", "to": "2026-03-04"}))
    assert [row[:3] for row in found["pages"][2:]] == [["/late", "other", "1"]]


def test_empty_project_and_bad_range(console: httpx.Client) -> None:
    empty = page(console, "prj_vis_empty")
    assert 'data-empty="tag"' in empty and 'id="pages"' not in empty
    bad = console.get("/console/projects/prj_vis/visibility", params={"from": "soon"})
    assert bad.status_code == 400
    assert 'id="range-error"' in bad.text and "from" in bad.text


def test_the_nav_links_the_page(console: httpx.Client) -> None:
    html = console.get("/console/projects/prj_vis/content", params=RANGE).text
    assert '<a href="/console/projects/prj_vis/visibility"' in html and "AI visibility" in html
    own = page(console, "prj_vis")
    assert 'href="/console/projects/prj_vis/visibility" aria-current="page"' in own


def test_a_read_token_of_another_project_is_403(server: Server) -> None:
    with httpx.Client(base_url=server.url + "/api/admin", headers=AUTH, timeout=10) as admin:
        created = admin.post("/projects/prj_vis_empty/read-tokens", json={"name": "partner"})
    assert created.status_code == 201, created.text
    with signed_in(server.url, created.json()["token"]) as client:
        assert client.get("/console/projects/prj_vis_empty/visibility").status_code == 200
        assert client.get("/console/projects/prj_vis/visibility").status_code == 403


def test_crawls_per_referral_and_operators_line() -> None:
    assert crawls_per_referral(25, 2) == "12.5"
    assert crawls_per_referral(3, 0) == "—"
    assert crawls_per_referral(12345, 1) == "12,345.0"
    rows = [
        {"operator": "OpenAI", "hits": 4, "verified": 3},
        {"operator": None, "hits": 1, "verified": 0},
        {"operator": "Anthropic", "hits": 0, "verified": 0},  # failed claims only
    ]
    assert operators_line(rows) == "OpenAI 4 (3 verified), (unknown operator) 1"
    assert operators_line([]) == "—"
    assert kinds_line({"training": 3, "search": 0, "user": 1, "assistant": 2}) == (
        "training 3, user 1, assistant 2"
    )
    assert kinds_line({"training": 0, "search": 0, "user": 0}) == "—"
