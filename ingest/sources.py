"""The AI sources a project can enable (runbook step 7); ids are what `events.ai_source` holds.

The list is built at import from vendored data (see `ingest/data/README.md`):
`AIAssistants.yml` from matomo-org/searchengine-and-social-list plus our own small
supplement `ai_assistants_extra.json`. One source per assistant; its label is the name
in the file, its id a slug of that name, except for the pinned ids in `_ID_BY_NAME`
(stored in existing rows and the runbook, so they must never change).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

import yaml

_DATA = resources.files("ingest") / "data"
VENDORED_ASSISTANTS = "AIAssistants.yml"
EXTRA_ASSISTANTS = "ai_assistants_extra.json"

# Pinned ids, in the order they are listed, keyed by the case-folded assistant name.
_ID_BY_NAME: Mapping[str, str] = {
    "chatgpt": "chatgpt",
    "claude": "claude",
    "perplexity": "perplexity",
    "gemini": "gemini",
    "copilot": "copilot",
    "deepseek": "deepseek",
    "grok": "grok",
    "meta ai": "meta_ai",
    "le chat": "mistral",
    "you": "you",
    "phind": "phind",
    "duck.ai": "duckduckgo",
    "poe": "poe",
}
PINNED_IDS = tuple(_ID_BY_NAME.values())


def slug(name: str) -> str:
    """Lower-case `[a-z0-9_]` id of a name: "Baidu AI" -> baidu_ai, "Chat+" -> chat_plus."""
    text = name.casefold().replace("+", " plus ")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _as_assistants(data: object, origin: str) -> dict[str, list[str]]:
    """Validate `{name: [host, ...]}`; a malformed data file must fail loudly at import."""
    if not isinstance(data, dict):
        raise ValueError(f"{origin}: expected a mapping of assistant name to host list")
    out: dict[str, list[str]] = {}
    for name, hosts in data.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{origin}: assistant name {name!r} is not a non-empty string")
        if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
            raise ValueError(f"{origin}: hosts of {name!r} must be a list of strings")
        out[name.strip()] = [h.strip().lower() for h in hosts]
    return out


def _load_assistants() -> list[tuple[str, list[str]]]:
    vendored = yaml.safe_load((_DATA / VENDORED_ASSISTANTS).read_text(encoding="utf-8"))
    extra = json.loads((_DATA / EXTRA_ASSISTANTS).read_text(encoding="utf-8"))
    merged: dict[str, list[str]] = {}
    for name, hosts in [
        *_as_assistants(vendored, VENDORED_ASSISTANTS).items(),
        *_as_assistants(extra, EXTRA_ASSISTANTS).items(),
    ]:
        known = merged.setdefault(name, [])
        for host in hosts:
            if host not in known:
                known.append(host)
    return list(merged.items())


def _build() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    labels: dict[str, str] = {}
    hosts: dict[str, list[str]] = {}
    for name, assistant_hosts in _load_assistants():
        source = _ID_BY_NAME.get(name.casefold()) or slug(name)
        if not source:
            raise ValueError(f"assistant name {name!r} gives an empty id")
        labels.setdefault(source, name)
        hosts.setdefault(source, []).extend(assistant_hosts)
    order = [s for s in PINNED_IDS if s in labels] + sorted(set(labels) - set(PINNED_IDS))
    return (
        {s: labels[s] for s in order},
        {s: tuple(hosts[s]) for s in order},
    )


_labels, _hosts = _build()

KNOWN_SOURCES: Mapping[str, str] = MappingProxyType(_labels)
"""Source id -> label (the assistant's name in the data file); pinned ids first."""

SOURCE_HOSTS: Mapping[str, tuple[str, ...]] = MappingProxyType(_hosts)
"""Source id -> referrer hosts as listed (a host, or host/path such as `x.com/i/grok`)."""

# The runbook's four, enabled for every new project.
DEFAULT_ENABLED = ("chatgpt", "claude", "perplexity", "gemini")


def describe_sources(project_id: str, enabled: set[str]) -> dict[str, object]:
    """Every known source with its flag, as the sources endpoint and CLI answer."""
    return {
        "project_id": project_id,
        "enabled": [s for s in KNOWN_SOURCES if s in enabled],
        "sources": [
            {"id": source, "name": label, "enabled": source in enabled}
            for source, label in KNOWN_SOURCES.items()
        ],
    }
