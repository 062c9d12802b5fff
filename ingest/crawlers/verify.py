"""The verdict on one hit's crawler claim: `events.crawler_verified`. Pure.

In order (first that applies wins):
1. no known crawler claimed -> None (the column stays NULL);
2. a Web Bot Auth signature valid and by the claimed operator's key -> web_bot_auth;
3. a signature that does not verify (invalid, expired, replayed, tampered), or that verifies
   by another operator's key -> failed; one whose key is in no known directory cannot be
   checked (the directories may be older than the key) and the address decides;
4. the client address inside one of the claimed crawler's published lists -> ip_range;
5. an address outside them, when lists for that crawler are published -> failed;
6. no address, or nothing published for that crawler -> none.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

WEB_BOT_AUTH: Final = "web_bot_auth"
IP_RANGE: Final = "ip_range"
NONE: Final = "none"
FAILED: Final = "failed"
VERDICTS: Final = (WEB_BOT_AUTH, IP_RANGE, NONE, FAILED)

# A signature check's outcomes (webbotauth.SignatureCheck.outcome).
VALID: Final = "valid"
UNKNOWN_KEY: Final = "unknown_key"


@dataclass(frozen=True, slots=True)
class Claim:
    token: str  # the crawler the user agent names, e.g. "GPTBot"
    operator: str | None  # its operator, e.g. "OpenAI"
    lists: tuple[str, ...]  # the range lists published for it; () when none


@dataclass(frozen=True, slots=True)
class Signature:
    """What the Web Bot Auth check said, reduced to what the verdict needs."""

    outcome: str  # "valid" | "invalid" | "unknown_key"
    operator: str | None  # whose directory held the key
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    result: str | None  # one of VERDICTS, or None when no crawler is claimed
    why: str  # for ?debug=1


def verdict(
    claim: Claim | None,
    ip_lists: Collection[str] | None,
    signature: Signature | None,
) -> Verdict:
    """`ip_lists`: the names of the lists the client address is in (None: no address known)."""
    if claim is None:
        return Verdict(None, "no known crawler claimed")
    who = f"{claim.token} ({claim.operator or 'operator unknown'})"
    if signature is not None and signature.outcome != UNKNOWN_KEY:
        if signature.outcome != VALID:
            return Verdict(FAILED, f"{who}: its Web Bot Auth signature failed: {signature.reason}")
        if _same_operator(claim.operator, signature.operator):
            return Verdict(WEB_BOT_AUTH, f"{who}: signed with a key of {signature.operator}")
        return Verdict(
            FAILED,
            f"{who}: signed with a key of {signature.operator or 'an unnamed directory'},"
            f" not of {claim.operator or 'the claimed operator'}",
        )
    if signature is not None:
        who += f" (signature not checkable: {signature.reason})"
    if not claim.lists:
        return Verdict(NONE, f"{who}: its operator publishes no address list for it")
    if ip_lists is None:
        return Verdict(NONE, f"{who}: no client address to check")
    if any(name in ip_lists for name in claim.lists):
        return Verdict(IP_RANGE, f"{who}: the client address is in {', '.join(claim.lists)}")
    return Verdict(FAILED, f"{who}: the client address is in none of {', '.join(claim.lists)}")


def _same_operator(claimed: str | None, signer: str | None) -> bool:
    return claimed is not None and signer is not None and claimed.lower() == signer.lower()


__all__ = [
    "FAILED",
    "IP_RANGE",
    "NONE",
    "VERDICTS",
    "WEB_BOT_AUTH",
    "Claim",
    "Signature",
    "Verdict",
    "verdict",
]
