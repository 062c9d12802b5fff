"""The choice between JSON and HTML is a pure function of ?format= and Accept."""

from __future__ import annotations

import pytest

from ingest.admin.formats import wants_html
from ingest.errors import ApiError


@pytest.mark.parametrize(
    ("format_param", "accept", "html"),
    [
        (None, None, False),
        (None, "", False),
        (None, "*/*", False),
        (None, "application/json", False),
        (None, "text/html", True),
        (None, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        (None, "text/html;q=0.4, application/json;q=0.5", False),
        (None, "application/json;q=0.5, text/html", True),
        (None, "text/*, application/json", False),  # a tie: JSON
        (None, "text/*;q=0.9, */*;q=0.1", True),
        (None, "TEXT/HTML; Q=0.7, */*;q=0.6", True),
        (None, "text/html;q=0, */*", False),  # q=0 is "not acceptable"
        (None, "text/html;q=bogus, application/json;q=0.1", False),
        (None, "garbage;;,,;q=", False),
        ("html", "application/json", True),
        (" Html ", None, True),
        ("json", "text/html", False),
    ],
)
def test_wants_html(format_param: str | None, accept: str | None, html: bool) -> None:
    assert wants_html(format_param, accept) is html


@pytest.mark.parametrize("format_param", ["", "xml", "text/html"])
def test_an_unknown_format_is_refused_with_the_choices(format_param: str) -> None:
    with pytest.raises(ApiError) as refused:
        wants_html(format_param, "text/html")
    assert refused.value.detail.startswith("format: must be one of json, html")
