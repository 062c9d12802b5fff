"""The install snippet of runbook step 5.2, for one property and key."""

from __future__ import annotations

from html import escape

TAG_PATH = "/v1/tag.js"


def tag_url(base_url: str) -> str:
    return base_url.rstrip("/") + TAG_PATH


def install_snippet(tag_src: str, key_id: str, project_id: str, property_id: int) -> str:
    attrs = [
        ("data-key-id", key_id),
        ("data-project-id", project_id),
        ("data-property-id", str(property_id)),
        ("data-clicks", "1"),
        ("data-spa", "1"),
    ]
    lines = [f'<script async src="{escape(tag_src)}"']
    lines += [f'        {name}="{escape(value)}"' for name, value in attrs]
    return "\n".join(lines) + "></script>"
