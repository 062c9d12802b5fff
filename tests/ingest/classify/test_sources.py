"""KNOWN_SOURCES built from the vendored AIAssistants.yml plus our supplement."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from ingest.classify.referrer import HOST_SOURCES, detect_ai_source
from ingest.sources import (
    DEFAULT_ENABLED,
    KNOWN_SOURCES,
    PINNED_IDS,
    SOURCE_HOSTS,
    describe_sources,
    slug,
)

REQUIRED = {
    "chatgpt": "ChatGPT",
    "claude": "Claude",
    "perplexity": "Perplexity",
    "gemini": "Gemini",
    "copilot": "Copilot",
    "deepseek": "Deepseek",
    "grok": "Grok",
    "meta_ai": "Meta AI",
    "mistral": "Le Chat",
    "you": "You",
    "phind": "Phind",
    "duckduckgo": "Duck.ai",
    "poe": "Poe",
}

REQUIRED_HOSTS = [
    ("chatgpt.com", "chatgpt"),
    ("chat.openai.com", "chatgpt"),
    ("claude.ai", "claude"),
    ("perplexity.ai", "perplexity"),
    ("gemini.google.com", "gemini"),
    ("copilot.microsoft.com", "copilot"),
    ("chat.deepseek.com", "deepseek"),
    ("grok.com", "grok"),
    ("meta.ai", "meta_ai"),
    ("chat.mistral.ai", "mistral"),
    ("you.com", "you"),
    ("phind.com", "phind"),
    ("duck.ai", "duckduckgo"),
    ("poe.com", "poe"),
]


def test_the_thirteen_ids_come_first_in_order_with_their_labels() -> None:
    assert list(KNOWN_SOURCES)[: len(REQUIRED)] == list(REQUIRED)
    assert {s: KNOWN_SOURCES[s] for s in REQUIRED} == REQUIRED
    assert tuple(REQUIRED) == PINNED_IDS


def test_the_rest_follow_alphabetically() -> None:
    rest = list(KNOWN_SOURCES)[len(REQUIRED) :]
    assert rest == sorted(rest)
    assert {"baidu_ai", "chat_plus", "chatglm", "iask", "jasper", "notebooklm", "qwen"} <= set(rest)


def test_every_id_is_a_slug() -> None:
    assert all(re.fullmatch(r"[a-z0-9_]+", s) for s in KNOWN_SOURCES)


def test_default_enabled_is_known() -> None:
    assert DEFAULT_ENABLED == ("chatgpt", "claude", "perplexity", "gemini")
    assert set(DEFAULT_ENABLED) <= set(KNOWN_SOURCES)


@pytest.mark.parametrize(("host", "source"), REQUIRED_HOSTS, ids=[h for h, _ in REQUIRED_HOSTS])
def test_required_host_maps_to_its_id(host: str, source: str) -> None:
    assert host in SOURCE_HOSTS[source]
    assert HOST_SOURCES[host] == source
    match = detect_ai_source(f"https://{host}/", None)
    assert match is not None
    assert match.source == source


def test_no_host_belongs_to_two_sources() -> None:
    listed = [host for hosts in SOURCE_HOSTS.values() for host in hosts]
    assert len(listed) == len(set(listed))


def test_every_source_has_a_host() -> None:
    assert set(SOURCE_HOSTS) == set(KNOWN_SOURCES)
    assert all(SOURCE_HOSTS[s] for s in KNOWN_SOURCES)


def test_supplement_only_adds_what_the_vendored_file_lacks() -> None:
    data = resources.files("ingest") / "data"
    vendored = data.joinpath("AIAssistants.yml").read_text(encoding="utf-8")
    extra = json.loads(data.joinpath("ai_assistants_extra.json").read_text(encoding="utf-8"))
    assert extra == {"Phind": ["phind.com"], "Duck.ai": ["duck.ai"], "Poe": ["poe.com"]}
    for name, hosts in extra.items():
        assert f"\n{name}:" not in vendored
        assert all(host not in vendored for host in hosts)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Baidu AI", "baidu_ai"),
        ("Chat+", "chat_plus"),
        ("iAsk", "iask"),
        ("Duck.ai", "duck_ai"),
        ("  X  ", "x"),
    ],
)
def test_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_describe_sources_lists_every_source_in_order() -> None:
    described = describe_sources("p1", {"claude", "qwen"})
    assert described["project_id"] == "p1"
    assert described["enabled"] == ["claude", "qwen"]
    sources = described["sources"]
    assert isinstance(sources, list)
    assert [s["id"] for s in sources] == list(KNOWN_SOURCES)
    assert sources[1] == {"id": "claude", "name": "Claude", "enabled": True}
    assert sources[0] == {"id": "chatgpt", "name": "ChatGPT", "enabled": False}
