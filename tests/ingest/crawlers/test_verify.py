"""The verdict on a crawler claim (verify.py): every rule, table-driven."""

from __future__ import annotations

import pytest

from ingest.crawlers.verify import Claim, Signature, verdict

GPTBOT = Claim("GPTBot", "OpenAI", ("openai-gptbot",))
CLAUDEBOT = Claim("ClaudeBot", "Anthropic", ())  # Anthropic publishes no list
GOOGLE_FETCHER = Claim(
    "FeedFetcher-Google",
    "Google",
    ("google-user-triggered-fetchers", "google-user-triggered-fetchers-google"),
)
VALID_OPENAI = Signature("valid", "OpenAI", "ok")
VALID_SHOPIFY = Signature("valid", "Shopify", "ok")
INVALID = Signature("invalid", "OpenAI", "nonce already seen (replay)")
UNKNOWN_KEY = Signature("unknown_key", None, "keyid abc in no known directory")
NO_IP = None
IN_GPTBOT: frozenset[str] = frozenset({"openai-gptbot"})
IN_SEARCHBOT: frozenset[str] = frozenset({"openai-searchbot"})
NOWHERE: frozenset[str] = frozenset()


@pytest.mark.parametrize(
    ("claim", "ip_lists", "signature", "expected"),
    [
        # No crawler claimed: NULL, whatever else is known.
        (None, IN_GPTBOT, VALID_OPENAI, None),
        (None, NO_IP, None, None),
        # A valid signature by the claimed operator settles it, even from outside the ranges.
        (GPTBOT, NOWHERE, VALID_OPENAI, "web_bot_auth"),
        (GPTBOT, NO_IP, VALID_OPENAI, "web_bot_auth"),
        (CLAUDEBOT, NO_IP, Signature("valid", "anthropic", "ok"), "web_bot_auth"),  # any case
        # Valid, but another operator's key: the claim is false.
        (GPTBOT, IN_GPTBOT, VALID_SHOPIFY, "failed"),
        (Claim("GPTBot", None, ("openai-gptbot",)), IN_GPTBOT, VALID_OPENAI, "failed"),
        # A signature that does not verify fails the claim, even from inside the ranges.
        (GPTBOT, IN_GPTBOT, INVALID, "failed"),
        (CLAUDEBOT, NO_IP, INVALID, "failed"),
        # A key in no known directory cannot be checked: the address decides.
        (GPTBOT, IN_GPTBOT, UNKNOWN_KEY, "ip_range"),
        (GPTBOT, NOWHERE, UNKNOWN_KEY, "failed"),
        (CLAUDEBOT, NO_IP, UNKNOWN_KEY, "none"),
        # Addresses.
        (GPTBOT, IN_GPTBOT, None, "ip_range"),
        (GPTBOT, IN_GPTBOT | IN_SEARCHBOT, None, "ip_range"),
        (GPTBOT, IN_SEARCHBOT, None, "failed"),  # OpenAI's, but not GPTBot's list
        (GPTBOT, NOWHERE, None, "failed"),
        (GPTBOT, NO_IP, None, "none"),
        (GOOGLE_FETCHER, frozenset({"google-user-triggered-fetchers-google"}), None, "ip_range"),
        (GOOGLE_FETCHER, frozenset({"google-googlebot"}), None, "failed"),
        # Nothing published for the crawler: no way to check.
        (CLAUDEBOT, NOWHERE, None, "none"),
        (CLAUDEBOT, NO_IP, None, "none"),
    ],
)
def test_verdict(
    claim: Claim | None,
    ip_lists: frozenset[str] | None,
    signature: Signature | None,
    expected: str | None,
) -> None:
    found = verdict(claim, ip_lists, signature)
    assert found.result == expected, found.why
    assert found.why  # every verdict says why, for ?debug=1


def test_the_reason_names_the_crawler_and_the_lists() -> None:
    why = verdict(GPTBOT, NOWHERE, None).why
    assert "GPTBot" in why and "OpenAI" in why and "openai-gptbot" in why
    assert "replay" in verdict(GPTBOT, IN_GPTBOT, INVALID).why
