"""Reading the console's HTML in tests: sign in as a person would, and pull out tables."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx

from tests.conftest import ADMIN_TOKEN

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}  # fmt: skip
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]+)"')


@contextlib.contextmanager
def signed_in(
    base_url: str, token: str = ADMIN_TOKEN, tz: str | None = None
) -> Iterator[httpx.Client]:
    """A client with the console's session cookie, signed in through the sign-in form."""
    with httpx.Client(base_url=base_url, timeout=15) as client:
        form = client.get("/console/signin")
        assert form.status_code == 200, form.text
        field, value = _HIDDEN.findall(form.text)[0]
        answer = client.post("/console/signin", data={field: value, "token": token})
        assert answer.status_code == 303, answer.text
        if tz:
            client.cookies.set("ov_tz", tz, path="/console")
        yield client


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.current: list[list[str]] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br" and self.cell is not None:
                self.cell.append(" ")
            return
        self.stack.append((tag, dict(attrs).get("id")))
        if tag == "table":
            key = next((i for _, i in reversed(self.stack) if i), f"table-{len(self.tables)}")
            while key in self.tables:
                key += "+"
            self.current = self.tables[key] = []
        elif tag == "tr" and self.current is not None:
            self.current.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self.stack:
            opened, _ = self.stack.pop()
            if opened == tag:
                break
        if tag in ("td", "th") and self.cell is not None and self.current:
            self.current[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    """Every table's rows of cell texts (the header row first), keyed by the id of the table
    or of the nearest element around it that has one."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables
