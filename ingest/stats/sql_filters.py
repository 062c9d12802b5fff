"""WHERE-clause pieces shared by the content, journeys and ai answers (pure).

Values always travel as parameters; only placeholders and fixed column names are spliced in.
"""

from __future__ import annotations

from collections.abc import Sequence

AI_CLASSES = ("ai_crawler", "ai_agent")


def placeholders(count: int) -> str:
    """`?, ?, ?` for an IN list; callers return early on an empty list (IN () is invalid)."""
    return ", ".join("?" * count)


def class_clause(column: str, ua_class: str | None) -> tuple[str, list[object]]:
    """` AND <column> = ?` for one traffic class; nothing for None (`class=all`)."""
    if ua_class is None:
        return "", []
    return f" AND {column} = ?", [ua_class]


def property_clause(column: str, property_ids: Sequence[int]) -> tuple[str, list[object]]:
    return f"{column} IN ({placeholders(len(property_ids))})", list(property_ids)
