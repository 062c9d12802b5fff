"""A log line's digest (events.log_digest): what makes importing it again store nothing.

A line's identity is its text, or what its format names (Vercel's requestId). Two identical
lines in one file or request are two requests (the same client, page and second), so the
n-th occurrence of a text is digested with n: a file imported again gives the same digests,
and its repeated lines are each stored once, not merged into one.
"""

from __future__ import annotations

from hashlib import blake2b

DIGEST_BYTES = 16


class Digester:
    """Digests for one file or request body (occurrences are counted within it)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._requests: set[str] = set()

    def line(self, text: str) -> str:
        seen = self._seen.get(text, 0)
        self._seen[text] = seen + 1
        data = text.encode("utf-8", "surrogateescape")
        if seen:
            data += b"\x00%d" % seen
        return blake2b(data, digest_size=DIGEST_BYTES).hexdigest()

    def identity(self, key: str) -> tuple[str, bool]:
        """The digest of a request's own identity, and whether it came before in this input
        (a second entry of one request: not a second hit)."""
        seen = key in self._requests
        self._requests.add(key)
        data = key.encode("utf-8", "surrogateescape")
        return blake2b(data, digest_size=DIGEST_BYTES).hexdigest(), seen
