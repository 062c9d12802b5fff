"""Which representation an admin answer takes: JSON unless HTML is asked for.

`?format=json|html` decides when given; otherwise the Accept header, by its q-values, with
the most specific range matching each type (RFC 9110 12.5.1). No Accept, `*/*`, or a tie
answers JSON, so scripts and curl keep the JSON they had.
"""

from __future__ import annotations

from ingest.errors import invalid_field

FORMATS = ("json", "html")
HTML = "text/html"
JSON = "application/json"


def _quality(accept: str, media_type: str) -> float:
    kind = media_type.split("/", 1)[0]
    ranges = {media_type: 2, f"{kind}/*": 1, "*/*": 0}
    best, quality = -1, 0.0
    for item in accept.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        specificity = ranges.get(name.lower(), -1)
        if specificity <= best:
            continue
        best, quality = specificity, 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
    return quality


def wants_html(format_param: str | None, accept: str | None) -> bool:
    if format_param is not None:
        chosen = format_param.strip().lower()
        if chosen not in FORMATS:
            raise invalid_field("format", f"must be one of {', '.join(FORMATS)}, not {chosen!r}")
        return chosen == "html"
    if not accept:
        return False
    return _quality(accept, HTML) > _quality(accept, JSON)
