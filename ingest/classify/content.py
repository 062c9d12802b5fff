"""What kind of page an event is on, from its URL path alone (pure, never raises).

`content_type` first recognises the files written for machines, by the last path segment:
`/llms.txt` and `/llms-full.txt` (llms_txt, wherever they sit: sites put them under /docs/ too),
Markdown variants of pages (`/docs/page.md`, `/index.html.md`: markdown) and `/robots.txt` at the
root (robots_txt: crawlers only ever read it there). Otherwise it looks at the first meaningful
path segment, after an optional leading locale segment (`en`, `de`, `pt-br`, `en_us`): home,
blog, docs, product, pricing, other.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

MAX_PATH_CHARS = 2048

HOME: Final = "home"
BLOG: Final = "blog"
DOCS: Final = "docs"
PRODUCT: Final = "product"
PRICING: Final = "pricing"
OTHER: Final = "other"

LLMS_TXT: Final = "llms_txt"
MARKDOWN: Final = "markdown"
ROBOTS_TXT: Final = "robots_txt"

# The kinds of pages people read: the content endpoint lists each of them, zeros included.
CONTENT_TYPES: Final = (HOME, BLOG, DOCS, PRODUCT, PRICING, OTHER)
# Files fetched by crawlers and agents rather than read by people (listed when fetched).
MACHINE_TYPES: Final = (LLMS_TXT, MARKDOWN, ROBOTS_TXT)
ALL_TYPES: Final = CONTENT_TYPES + MACHINE_TYPES

_SECTIONS: Final[dict[str, str]] = {
    **dict.fromkeys(("blog", "news", "articles", "posts", "stories"), BLOG),
    **dict.fromkeys(
        (
            "docs",
            "documentation",
            "guide",
            "guides",
            "help",
            "kb",
            "knowledge-base",
            "manual",
            "reference",
            "api",
        ),
        DOCS,
    ),
    **dict.fromkeys(
        ("product", "products", "shop", "store", "p", "item", "items", "catalog"), PRODUCT
    ),
    **dict.fromkeys(("pricing", "plans", "price", "prices"), PRICING),
}
_INDEX_PAGES: Final = frozenset({"index.html", "index.htm", "index.php"})
_PAGE_SUFFIX: Final = re.compile(r"\.(?:html?|php|aspx?)$")
_LOCALE: Final = re.compile(r"^[a-z]{2}(?:[-_][a-z]{2})?$")
_LLMS_FILES: Final = frozenset({"llms.txt", "llms-full.txt"})
_MARKDOWN_SUFFIXES: Final = (".md", ".markdown")


def page_path(url: str) -> str:
    """Path of an http(s) URL without query or fragment; "/" when empty or not http(s)."""
    if not url or not isinstance(url, str):
        return "/"
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "/"
    if parts.scheme.lower() not in ("http", "https"):
        return "/"
    return (parts.path or "/")[:MAX_PATH_CHARS]


def content_type(path: str) -> str:
    """One of ALL_TYPES for a URL path (a stray query or fragment is ignored)."""
    if not path or not isinstance(path, str):
        return HOME
    path = path.split("?", 1)[0].split("#", 1)[0][:MAX_PATH_CHARS]
    segments = [s for s in path.lower().split("/") if s]
    machine = _machine_type(segments, path.endswith("/"))
    if machine is not None:
        return machine
    if segments and segments[0] not in _SECTIONS and _LOCALE.match(segments[0]):
        segments = segments[1:]
    if not segments or (len(segments) == 1 and segments[0] in _INDEX_PAGES):
        return HOME
    first = _PAGE_SUFFIX.sub("", segments[0])
    return _SECTIONS.get(first, OTHER)


def _machine_type(segments: list[str], trailing_slash: bool) -> str | None:
    """The machine-readable file a path names, None for an ordinary page."""
    if not segments or trailing_slash:
        return None
    last = segments[-1]
    if last in _LLMS_FILES:
        return LLMS_TXT
    if segments == ["robots.txt"]:
        return ROBOTS_TXT
    if last.endswith(_MARKDOWN_SUFFIXES) and last not in _MARKDOWN_SUFFIXES:
        return MARKDOWN
    return None
