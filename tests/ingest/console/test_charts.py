"""The console's SVG charts: well-formed, accessible, scaled to their values, and an empty state
instead of a crash when there is nothing to draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.console.charts import Series, bar_list, bucket_label, nice_ceiling, ticks, time_bars

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)  # raises on anything not well-formed
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text
    labelled = (root.get("aria-labelledby") or "").split()
    assert title.get("id") in labelled
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("data-value") is not None]


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (260, 500), (1001, 2000)],
)
def test_nice_ceiling(value: int, ceiling: int):
    assert nice_ceiling(value) == ceiling


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [(1, [0, 1]), (2, [0, 1, 2]), (4, [0, 1, 2, 3, 4, 5]), (17, [0, 4, 8, 12, 16, 20])],
)
def test_ticks(maximum: int, expected: list[int]):
    assert ticks(maximum) == expected


def test_time_bars_stack_and_scale():
    markup = time_bars(
        "Events per day",
        ["Mar 01", "Mar 02", "Mar 03"],
        [Series("human", (2, 0, 4)), Series("bot", (2, 0, 1))],
        axis_note="Times in Asia/Kolkata (UTC+05:30)",
    )
    root = parse(markup)
    drawn = bars(root)
    # zero segments are not drawn: 2 + 0 + 2 rectangles
    assert [(r.get("data-series"), r.get("data-value")) for r in drawn] == [
        ("human", "2"), ("bot", "2"), ("human", "4"), ("bot", "1"),
    ]  # fmt: skip
    heights = {
        (r.get("data-series"), r.get("data-value")): float(r.get("height") or 0) for r in drawn
    }
    # heights are proportional to the values
    assert heights[("human", "4")] == pytest.approx(2 * heights[("human", "2")], abs=0.2)
    assert heights[("human", "4")] == pytest.approx(4 * heights[("bot", "1")], abs=0.2)
    # the bot segment sits on top of the human one in the same column
    first_human, first_bot = drawn[0], drawn[1]
    assert float(first_bot.get("y") or 0) + float(first_bot.get("height") or 0) == pytest.approx(
        float(first_human.get("y") or 0), abs=0.2
    )
    assert "Times in Asia/Kolkata (UTC+05:30)" in texts(root)
    assert "Mar 01" in texts(root)
    # every column says its numbers in a tooltip
    tips = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert tips == ["Mar 01: 4 (human 2, bot 2)", "Mar 02: 0", "Mar 03: 5 (human 4, bot 1)"]


def test_time_bars_the_tallest_column_reaches_the_top_tick():
    root = parse(time_bars("t", ["a", "b"], [Series("events", (10, 5))]))
    drawn = bars(root)
    assert float(drawn[0].get("height") or 0) == pytest.approx(184.0, abs=0.2)  # 240 - 12 - 44
    assert float(drawn[1].get("height") or 0) == pytest.approx(92.0, abs=0.2)


@pytest.mark.parametrize(
    ("labels", "series"),
    [
        ([], []),
        (["Mar 01"], []),
        (["Mar 01", "Mar 02"], [Series("human", (0, 0))]),
        (["Mar 01"], [Series("human", (1, 2))]),  # mismatched lengths are left out, not drawn
    ],
)
def test_time_bars_empty_state(labels: list[str], series: list[Series]):
    root = parse(time_bars("Events", labels, series, empty="No events yet: install the tag"))
    assert bars(root) == []
    assert texts(root) == ["No events yet: install the tag"]


def test_many_buckets_label_only_some():
    labels = [f"{h:02d}:00" for h in range(48)]
    root = parse(time_bars("t", labels, [Series("human", tuple(range(48)))]))
    shown = [t for t in texts(root) if t.endswith(":00")]
    assert 1 < len(shown) <= 8
    assert len(bars(root)) == 47  # the zero at 00:00 is not drawn


def test_text_is_escaped():
    nasty = "<script>alert(\"x\")</script> & 'quotes'"
    markup = time_bars(nasty, [nasty], [Series(nasty, (3,))], axis_note=nasty)
    assert "<script>" not in markup
    root = parse(markup)
    assert nasty in texts(root)
    listed = bar_list(nasty, [(nasty, 1)])
    assert "<script>" not in listed
    assert parse(listed).find(f"{SVG}title").text == nasty  # type: ignore[union-attr]


def test_bar_list_scales_to_the_largest():
    root = parse(bar_list("Countries", [("US", 8), ("DE", 4), (None, 2), ("FR", 0)]))
    drawn = bars(root)
    assert [r.get("data-value") for r in drawn] == ["8", "4", "2"]  # a zero row is not drawn
    widths = [float(r.get("width") or 0) for r in drawn]
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.2)
    assert widths[0] == pytest.approx(4 * widths[2], abs=0.2)
    assert [t for t in texts(root) if not t[0].isdigit()] == ["US", "DE", "(unknown)"]
    tips = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert tips == ["US: 8 (57.1%)", "DE: 4 (28.6%)", "(unknown): 2 (14.3%)"]
    assert float(root.get("viewBox", "").split()[3]) == 3 * 22 + 8


def test_bar_list_shortens_long_labels_but_keeps_them_in_the_tooltip():
    path = "/blog/" + "a" * 80
    root = parse(bar_list("Pages", [(path, 3)]))
    (shown,) = [t for t in texts(root) if t.startswith("/blog/")]
    assert len(shown) == 24 and shown.endswith("\u2026")
    assert [t.text for t in root.iter(f"{SVG}title")][1] == f"{path}: 3 (100.0%)"


@pytest.mark.parametrize("rows", [[], [("US", 0)], [(None, 0), ("DE", 0)]])
def test_bar_list_empty_state(rows: list[tuple[str | None, int]]):
    root = parse(bar_list("Countries", rows, empty="No countries yet"))
    assert bars(root) == []
    assert texts(root) == ["No countries yet"]


def test_chart_ids_differ_between_charts_on_one_page():
    a = parse(bar_list("Browsers", [("Chrome", 1)]))
    b = parse(bar_list("Devices", [("desktop", 1)]))
    assert a.find(f"{SVG}title").get("id") != b.find(f"{SVG}title").get("id")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("when", "interval", "label"),
    [
        (datetime(2026, 3, 1, 18, 30, tzinfo=ZoneInfo("UTC")), "day", "Mar 01"),
        (
            datetime(2026, 3, 1, 18, 30, tzinfo=ZoneInfo("UTC")).astimezone(
                ZoneInfo("Asia/Kolkata")
            ),
            "hour",
            "Mar 02 00:00",
        ),
        (datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo("Europe/Berlin")), "minute", "Mar 29 03:00"),
    ],
)
def test_bucket_label_in_the_zone_given(when: datetime, interval: str, label: str):
    assert bucket_label(when, interval) == label


def test_a_series_label_names_it_in_the_legend_and_tooltips():
    root = parse(time_bars("t", ["Mar 01"], [Series("ai_crawler", (2,), label="AI crawlers")]))
    assert "AI crawlers 2" in texts(root)
    assert [t.text for t in root.iter(f"{SVG}title")][1] == "Mar 01: 2 (AI crawlers 2)"
    assert bars(root)[0].get("fill") == "#d97706"  # the class's own colour, by name
