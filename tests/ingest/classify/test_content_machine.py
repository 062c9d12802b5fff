"""Content types of the files written for machines: llms.txt, Markdown variants, robots.txt."""

from __future__ import annotations

import pytest

from ingest.classify.content import (
    ALL_TYPES,
    CONTENT_TYPES,
    MACHINE_TYPES,
    content_type,
    page_path,
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        pytest.param("/llms.txt", "llms_txt", id="llms"),
        pytest.param("/llms-full.txt", "llms_txt", id="llms-full"),
        pytest.param("/LLMS.TXT", "llms_txt", id="llms-case"),
        pytest.param("/docs/llms.txt", "llms_txt", id="llms-in-a-section"),
        pytest.param("/llms.txt?v=2", "llms_txt", id="llms-stray-query"),
        pytest.param("/robots.txt", "robots_txt", id="robots"),
        pytest.param("/docs/page.md", "markdown", id="md-in-docs"),
        pytest.param("/index.html.md", "markdown", id="index-html-md"),
        pytest.param("/README.MD", "markdown", id="md-case"),
        pytest.param("/blog/post.markdown", "markdown", id="markdown-suffix"),
        pytest.param("/en/pricing.md", "markdown", id="locale-md"),
        # Not machine files: the ordinary page kinds still apply.
        pytest.param("/blog/robots.txt", "blog", id="robots-not-at-root"),
        pytest.param("/llms.txt/", "other", id="llms-as-a-folder"),
        pytest.param("/docs/llms.txt.html", "docs", id="llms-then-suffix"),
        pytest.param("/docs/md", "docs", id="md-segment"),
        pytest.param("/blog/readme.mdx", "blog", id="mdx-is-no-markdown"),
        pytest.param("/docs/page.md/edit", "docs", id="md-not-last"),
        pytest.param("/", "home", id="root"),
    ],
)
def test_machine_content_types(path: str, kind: str) -> None:
    assert content_type(path) == kind
    assert kind in ALL_TYPES


def test_machine_types_of_page_paths() -> None:
    assert content_type(page_path("https://example.com/llms-full.txt")) == "llms_txt"
    assert content_type(page_path("https://example.com/docs/a.md#x")) == "markdown"


def test_the_type_lists() -> None:
    assert MACHINE_TYPES == ("llms_txt", "markdown", "robots_txt")
    assert ALL_TYPES == CONTENT_TYPES + MACHINE_TYPES
    assert not set(CONTENT_TYPES) & set(MACHINE_TYPES)
