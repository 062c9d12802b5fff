"""A forwarded hit's original request as Web Bot Auth signed it (HTTP Message Signatures).

A server forwarding a crawler's hit passes on what the signature covers: the method, the
authority and path the crawler requested, and its `Signature`, `Signature-Input` and
`Signature-Agent` headers. Parsed from an event's `signature` object (server to server only).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SignedHit:
    method: str  # e.g. "GET"
    authority: str  # the Host the crawler asked for, e.g. "www.example.com"
    path: str  # the request target's path and query, e.g. "/pricing?x=1"
    signature: str  # the Signature header's value
    signature_input: str  # the Signature-Input header's value
    signature_agent: str | None  # the Signature-Agent header's value, when sent


__all__ = ["SignedHit"]
