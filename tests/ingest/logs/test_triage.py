"""Lines to candidates: skip reasons counted, digests stable and per occurrence (pure)."""

from __future__ import annotations

from ingest.logs.formats import FORMATS, PEEKS
from ingest.logs.triage import Triager
from tests.ingest.collect.conftest import CHROME, GPTBOT
from tests.ingest.logs.conftest import nginx_line

NOW = 1_800_000_000_000


def triager(include_humans: bool = False) -> Triager:
    return Triager(FORMATS["nginx"], "shop.example", include_humans, NOW, explain=True)


def test_counts_and_fates() -> None:
    lines = [
        nginx_line("/a", GPTBOT),
        "",
        nginx_line("/", CHROME),
        "nonsense",
        nginx_line("/a", GPTBOT),
    ]
    result = triager().run(lines)
    assert result.lines == 4  # the blank line is none
    assert [(c.line, c.url) for c in result.candidates] == [
        (0, "https://shop.example/a"),
        (3, "https://shop.example/a"),
    ]
    assert dict(result.skipped) == {"human": 1, "unparseable": 1}
    assert result.fates == [(1, "human"), (2, "unparseable")]
    first, second = (c.digest for c in result.candidates)
    assert first != second  # the same line twice: two requests, two digests


def test_digests_are_the_same_on_a_second_run_and_across_batches() -> None:
    lines = [nginx_line("/a", GPTBOT)] * 3 + [nginx_line("/b", GPTBOT)]
    once = [c.digest for c in triager().run(lines).candidates]
    split = triager()
    twice = [c.digest for c in split.run(lines[:2]).candidates]
    twice += [c.digest for c in split.run(lines[2:]).candidates]
    assert once == twice
    assert len(set(once)) == 4


def test_implausible_times_are_unparseable() -> None:
    far = nginx_line("/a", GPTBOT).replace("2025", "2099")
    old = nginx_line("/a", GPTBOT).replace("2025", "1999")
    assert dict(triager().run([far, old]).skipped) == {"unparseable": 2}


def test_humans_when_included() -> None:
    result = triager(include_humans=True).run([nginx_line("/", CHROME)])
    assert len(result.candidates) == 1


def test_a_known_browser_is_skipped_on_its_user_agent_alone() -> None:
    quick = Triager(FORMATS["nginx"], "shop.example", False, NOW, explain=True, peek=PEEKS["nginx"])
    lines = [nginx_line("/", CHROME), nginx_line("/a", CHROME), nginx_line("/b", GPTBOT)]
    slow = triager().run(lines)
    fast = quick.run(lines)
    assert fast.fates == slow.fates == [(0, "human"), (1, "human")]
    assert [c.digest for c in fast.candidates] == [c.digest for c in slow.candidates]
