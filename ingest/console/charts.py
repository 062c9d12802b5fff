"""Charts drawn on the server as SVG: pure functions from numbers to escaped markup.

No JavaScript and no chart library: a page reads without scripts, and every value is also in
a `<title>` (a hover tooltip, and what a screen reader says) as well as in the page's tables.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Final

WIDTH: Final = 720
BARS_WIDTH: Final = 480  # bar lists sit two to a row: a narrower drawing keeps the text legible
TIME_HEIGHT: Final = 240
EMPTY_HEIGHT: Final = 96  # an empty chart says so without taking a full chart's room
MAX_X_LABELS: Final = 8
BAR_ROW: Final = 22
BAR_LABEL_CHARS: Final = 24
MARGIN_LEFT: Final = 52
MARGIN_RIGHT: Final = 12
MARGIN_TOP: Final = 12
MARGIN_BOTTOM: Final = 44

# One colour per traffic class, so a class keeps its colour on every chart; other series take
# the palette in order. Chosen to stay apart for the common colour-vision deficiencies.
CLASS_COLOURS: Final = {
    "human": "#2563eb",
    "bot": "#9ca3af",
    "ai_crawler": "#d97706",
    "ai_agent": "#7c3aed",
}
PALETTE: Final = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2", "#9ca3af")


@dataclass(frozen=True)
class Series:
    """One stacked layer of a time chart: a name for the legend and one value per bucket."""

    name: str
    values: tuple[int, ...]
    label: str = ""  # for the legend and tooltips; the name when empty

    @property
    def shown(self) -> str:
        return self.label or self.name


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _number(value: int) -> str:
    return f"{value:,}"


def _chart_id(kind: str, title: str) -> str:
    # Ids must be unique on a page holding several charts, and stable between renders.
    return f"{kind}-{hashlib.sha1(title.encode(), usedforsecurity=False).hexdigest()[:8]}"


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above value (at least 1)."""
    if value <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover (the loop always returns)


def ticks(maximum: int) -> list[int]:
    """Y axis ticks from 0 to a round top at or above maximum: 0, top/2, top for small tops,
    else five steps."""
    top = nice_ceiling(maximum)
    if top <= 2:
        return list(range(top + 1))
    steps = 5 if top % 5 == 0 else 4 if top % 4 == 0 else 2
    return [top * i // steps for i in range(steps + 1)]


def colour(name: str, index: int) -> str:
    return CLASS_COLOURS.get(name, PALETTE[index % len(PALETTE)])


def bucket_label(start: datetime, interval: str) -> str:
    """A bucket's start as an axis label, in the zone the datetime carries."""
    if interval == "day":
        return start.strftime("%b %d")
    return start.strftime("%b %d %H:%M")


def _open(
    kind: str, title: str, description: str, height: int, width: int = WIDTH
) -> tuple[str, list[str]]:
    ident = _chart_id(kind, title)
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}-t {ident}-d" font-family="system-ui, sans-serif" '
        f'font-size="12">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(description)}</desc>',
    ]
    return ident, head


def _empty(kind: str, title: str, message: str, height: int, width: int = WIDTH) -> str:
    _, parts = _open(kind, title, message, height, width)
    parts.append(
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="none" '
        f'stroke="#d1d5db" stroke-dasharray="4 4"/>'
    )
    parts.append(
        f'<text class="empty" x="{width // 2}" y="{height // 2 + 4}" text-anchor="middle" '
        f'fill="#6b7280">{escape(message)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def time_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    axis_note: str = "",
    empty: str = "No data in this range",
) -> str:
    """Bars over time, one column per bucket, stacked by series (e.g. traffic class).

    `labels` name the buckets (already in the viewer's zone); `axis_note` says which zone under
    the axis. All zero, or no buckets: the empty-state message instead of bars."""
    buckets = len(labels)
    layers = [s for s in series if len(s.values) == buckets]
    totals = [sum(s.values[i] for s in layers) for i in range(buckets)]
    grand = sum(totals)
    if buckets == 0 or grand == 0:
        return _empty("time", title, empty, EMPTY_HEIGHT)

    legend = ", ".join(f"{s.shown} {_number(sum(s.values))}" for s in layers)
    ident, parts = _open(
        "time", title, f"{_number(grand)} in {buckets} buckets: {legend}.", TIME_HEIGHT
    )
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = TIME_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    base = MARGIN_TOP + plot_h
    axis = ticks(max(totals))
    top = axis[-1]

    for tick in axis:
        y = base - plot_h * tick / top
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e5e7eb"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#374151">'
            f"{_number(tick)}</text>"
        )

    band = plot_w / buckets
    bar_w = max(band * 0.8, 1.0)
    every = math.ceil(buckets / MAX_X_LABELS)
    for i, label in enumerate(labels):
        x = MARGIN_LEFT + band * i + (band - bar_w) / 2
        tip = ", ".join(f"{s.shown} {_number(s.values[i])}" for s in layers if s.values[i])
        parts.append(
            f'<g class="bucket"><title>{escape(label)}: {_number(totals[i])}'
            f"{' (' + escape(tip) + ')' if tip else ''}</title>"
        )
        y = float(base)
        for index, layer in enumerate(layers):
            value = layer.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour(layer.name, index)}" data-series="{_attr(layer.name)}" '
                f'data-value="{value}"/>'
            )
        parts.append("</g>")
        if i % every == 0:
            parts.append(
                f'<text x="{MARGIN_LEFT + band * i + band / 2:.1f}" y="{base + 16}" '
                f'text-anchor="middle" fill="#374151">{escape(label)}</text>'
            )

    parts.append(
        f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{base}" y2="{base}" '
        f'stroke="#6b7280"/>'
    )
    # Legend and zone on the last line, so that which colour is which reads without hovering.
    x = MARGIN_LEFT
    legend_y = TIME_HEIGHT - 8
    for index, layer in enumerate(layers):
        parts.append(
            f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" '
            f'fill="{colour(layer.name, index)}"/>'
        )
        text = f"{layer.shown} {_number(sum(layer.values))}"
        parts.append(f'<text x="{x + 14}" y="{legend_y}" fill="#111827">{escape(text)}</text>')
        x += 24 + 7 * len(text)
    if axis_note:
        parts.append(
            f'<text x="{WIDTH - MARGIN_RIGHT}" y="{legend_y}" text-anchor="end" '
            f'fill="#6b7280" id="{ident}-zone">{escape(axis_note)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _shorten(label: str) -> str:
    if len(label) <= BAR_LABEL_CHARS:
        return label
    return label[: BAR_LABEL_CHARS - 1] + "\u2026"


def bar_list(
    title: str,
    rows: Sequence[tuple[str | None, int]],
    *,
    empty: str = "No data in this range",
    unknown: str = "(unknown)",
) -> str:
    """Horizontal bars, one per row in the order given (largest first from the read API), each
    scaled to the largest; a None label (the dimension was not known) reads as `unknown`."""
    shown = [(unknown if label is None else label, count) for label, count in rows if count > 0]
    if not shown:
        return _empty("bars", title, empty, 3 * BAR_ROW, BARS_WIDTH)
    height = BAR_ROW * len(shown) + 8
    total = sum(count for _, count in shown)
    _, parts = _open(
        "bars",
        title,
        f"{len(shown)} rows, {_number(total)} in all; largest {shown[0][0]} "
        f"{_number(shown[0][1])}.",
        height,
        BARS_WIDTH,
    )
    label_w = 7 * BAR_LABEL_CHARS + 8
    value_w = 56
    bar_space = BARS_WIDTH - label_w - value_w
    largest = max(count for _, count in shown)
    for i, (label, count) in enumerate(shown):
        y = 4 + BAR_ROW * i
        w = max(bar_space * count / largest, 1.0)
        share = 100 * count / total
        parts.append(
            f'<g class="row"><title>{escape(label)}: {_number(count)} ({share:.1f}%)</title>'
        )
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" fill="#111827">'
            f"{escape(_shorten(label))}</text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{BAR_ROW - 6}" '
            f'fill="{PALETTE[0]}" data-value="{count}"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" fill="#374151">{_number(count)}</text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
