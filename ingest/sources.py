"""The AI sources a project can enable (runbook step 7); ids are what `events.ai_source` holds."""

from __future__ import annotations

from collections.abc import Mapping

KNOWN_SOURCES: Mapping[str, str] = {
    "chatgpt": "ChatGPT",
    "claude": "Claude",
    "perplexity": "Perplexity",
    "gemini": "Gemini",
    "copilot": "Microsoft Copilot",
    "deepseek": "DeepSeek",
    "grok": "Grok",
    "meta_ai": "Meta AI",
    "mistral": "Mistral Le Chat",
    "you": "You.com",
    "phind": "Phind",
    "duckduckgo": "Duck.ai",
    "poe": "Poe",
}

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
