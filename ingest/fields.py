"""Field checks the collector and the admin API share, so that both refuse the same inputs.

Ids are whole numbers SQLite can store; text has no control characters (refused, never
stripped, so that what is stored is what was sent).
"""

from __future__ import annotations

import re

from ingest.errors import invalid_field

MAX_ID = 2**63 - 1  # SQLite's INTEGER is signed 64-bit; a larger value cannot even be looked up
# ASCII only: str.isdigit() and int() also take superscripts and other scripts' digits
# (int() reads ARABIC-INDIC DIGIT ONE as 1).
_ID_DIGITS = re.compile(r"[0-9]{1,19}")
# C0, DEL and C1 (Unicode category Cc): NUL truncates text in C tools, the rest forge log lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shown(value: object) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return "null" if value is None else type(value).__name__


def positive_id(value: object, field: str) -> int:
    """A JSON integer or a string of ASCII digits (HTML attributes and query strings carry
    ids as text), from 1 to MAX_ID."""
    number = int(value) if isinstance(value, str) and _ID_DIGITS.fullmatch(value) else value
    if isinstance(number, bool) or not isinstance(number, int) or not 0 < number <= MAX_ID:
        raise invalid_field(
            field, f"must be a positive integer (1 to {MAX_ID}), not {_shown(value)}"
        )
    return number


def has_control(value: str) -> bool:
    return _CONTROL.search(value) is not None


def plain_text(value: str, field: str) -> str:
    """The value itself, or ApiError(400) naming the field and the first control character."""
    found = _CONTROL.search(value)
    if found is not None:
        raise invalid_field(
            field,
            f"contains control character U+{ord(found.group()):04X} at position {found.start()};"
            " control characters (U+0000-U+001F, U+007F-U+009F) are not accepted in text",
        )
    return value
