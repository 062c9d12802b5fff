"""Web Bot Auth: verify a forwarded hit's HTTP Message Signature (RFC 9421, IETF webbotauth).

An agent signs at least `@authority` and its `Signature-Agent` header with an Ed25519 key whose
JWK thumbprint is the `keyid`, tags the signature `web-bot-auth`, and publishes the key in the
directory at its Signature-Agent origin (keydirectory.py). `WebBotAuth.check` applies the
profile's policy (tag, covered components, created/expires window, the key's directory, one use
per nonce) around the cryptographic check, which `http-message-signatures` does.

Pure apart from the clock and the replay cache; it never raises on what a client sent.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import http_sf
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)

from ingest.crawlers.keydirectory import (
    KEY_DIRECTORIES,
    DirectoryKey,
    DirectorySource,
    KeyDirectory,
    load_directories,
    normalize_origin,
    parse_directory,
)
from ingest.crawlers.signed import SignedHit

TAG = "web-bot-auth"
ALGORITHM = "ed25519"
DEFAULT_MAX_SKEW_S = 60
DEFAULT_MAX_WINDOW_S = 24 * 3600  # the longest created..expires span accepted
DEFAULT_NONCE_CACHE_SIZE = 100_000
MAX_HEADER_CHARS = 4096  # far above a real Signature-Input (~300 chars); bounds parsing work

Outcome = Literal["valid", "invalid", "unknown_key"]


class SignatureCheck(NamedTuple):
    outcome: Outcome
    operator: str | None  # whose directory held the key, e.g. "OpenAI"; None if no key found
    reason: str


class _Rejected(Exception):
    """A check that ends early: carries the outcome and why."""

    def __init__(self, outcome: Outcome, reason: str, operator: str | None = None) -> None:
        super().__init__(reason)
        self.check = SignatureCheck(outcome, operator, reason)


def _invalid(reason: str, operator: str | None = None) -> _Rejected:
    return _Rejected("invalid", reason, operator)


class ReplayCache:
    """(keyid, nonce) pairs already accepted, each kept until its signature expires.

    In-process only: several workers or nodes each keep their own, so a replay sent to another
    worker within the window is not caught there. When full, the entry closest to expiring is
    dropped first (its replays would no longer be caught); the bound keeps memory fixed under a
    flood of valid signatures.
    """

    def __init__(self, max_entries: int = DEFAULT_NONCE_CACHE_SIZE) -> None:
        self._max_entries = max_entries
        self._until: dict[tuple[str, str], float] = {}
        self._expiries: list[tuple[float, tuple[str, str]]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def first_use(self, keyid: str, nonce: str, *, until: float, now: float) -> bool:
        """Record the pair; False when it was already recorded and has not expired."""
        key = (keyid, nonce)
        with self._lock:
            while self._expiries and self._expiries[0][0] < now:
                self._drop_soonest()
            if key in self._until:
                return False
            while len(self._until) >= self._max_entries:
                self._drop_soonest()
            self._until[key] = until
            heapq.heappush(self._expiries, (until, key))
            return True

    def _drop_soonest(self) -> None:
        until, key = heapq.heappop(self._expiries)
        if self._until.get(key) == until:
            del self._until[key]


class _Verifier(HTTPMessageVerifier):
    """The library's verifier, its own clock checks left to `WebBotAuth._check_times`.

    The library reads the wall clock directly; the profile's checks (both parameters required,
    a bounded window) run first with the injected clock, so the library's would only repeat them.
    """

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Message:
    """The forwarded request, shaped as the library's component resolver reads a request."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Chosen:
    label: str
    components: tuple[str, ...]  # covered component names, e.g. ("@authority", "signature-agent")
    agent_key: str | None  # the `key` parameter on a covered signature-agent (dictionary form)
    params: dict[str, object]


def _parse_dictionary(value: str, header: str) -> dict[str, Any]:
    if len(value) > MAX_HEADER_CHARS:
        raise _invalid(f"{header} is over {MAX_HEADER_CHARS} characters")

    def reject_duplicate(key: str, context: str) -> None:
        raise ValueError(f"duplicate member {key!r}")

    try:
        parsed = http_sf.parse(
            value.encode(), tltype="dictionary", on_duplicate_key=reject_duplicate
        )
    except (ValueError, UnicodeEncodeError) as exc:
        raise _invalid(f"malformed {header}: {exc}") from None
    if not isinstance(parsed, dict):  # pragma: no cover - tltype="dictionary" returns a dict
        raise _invalid(f"malformed {header}")
    return parsed


def _choose(signature_input: str) -> _Chosen:
    members = _parse_dictionary(signature_input, "Signature-Input")
    tags = []
    for label, (inner, params) in members.items():
        if not isinstance(inner, list):
            raise _invalid(f"Signature-Input member {label!r} is not an inner list")
        tag = params.get("tag")
        tags.append(tag)
        if tag != TAG:
            continue
        names: list[str] = []
        agent_key = None
        for name, item_params in inner:
            if not isinstance(name, str):
                raise _invalid(f"Signature-Input {label!r} covers a non-string component")
            names.append(name)
            if name == "signature-agent" and isinstance(item_params.get("key"), str):
                agent_key = item_params["key"]
        return _Chosen(label, tuple(names), agent_key, dict(params))
    if not members:
        raise _invalid("Signature-Input is empty")
    raise _invalid(f"no signature tagged {TAG!r} (tags: {', '.join(map(repr, tags))})")


def _agent_origin(signature_agent: str, agent_key: str | None) -> str:
    """The Signature-Agent header's origin: a string (`"https://chatgpt.com"`), the dictionary
    form (`g="https://agent.bot.goog"`, the member the signature covers), or a bare URL."""
    if len(signature_agent) > MAX_HEADER_CHARS:
        raise _invalid(f"Signature-Agent is over {MAX_HEADER_CHARS} characters")
    raw: object = None
    try:
        members: Any = http_sf.parse(signature_agent.encode(), tltype="dictionary")
        if isinstance(members, dict):
            if agent_key is not None and agent_key in members:
                raw = members[agent_key][0]
            elif agent_key is None and len(members) == 1:
                raw = next(iter(members.values()))[0]
    except (ValueError, UnicodeEncodeError):
        pass
    if not isinstance(raw, str):
        try:
            item = http_sf.parse(signature_agent.encode(), tltype="item")
            raw = str(item[0]) if isinstance(item, tuple) else None
        except (ValueError, UnicodeEncodeError):
            raw = None
    origin = normalize_origin(raw) if isinstance(raw, str) else None
    if origin is None:
        raise _invalid(f"Signature-Agent names no origin: {signature_agent[:200]!r}")
    return origin


def _host(authority: str) -> str:
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.rsplit(":", 1)[0].rstrip(".") if ":" in authority else authority.rstrip(".")


class WebBotAuth:
    def __init__(
        self,
        directories: Iterable[KeyDirectory],
        *,
        clock: Callable[[], float] = time.time,
        max_skew_s: int = DEFAULT_MAX_SKEW_S,
        max_window_s: int = DEFAULT_MAX_WINDOW_S,
        require_nonce: bool = True,
        nonce_cache_size: int = DEFAULT_NONCE_CACHE_SIZE,
    ) -> None:
        self.directories = tuple(directories)
        self._by_origin = {d.origin: d for d in self.directories}
        self._clock = clock
        self._max_skew_s = max_skew_s
        self._max_window_s = max_window_s
        self._require_nonce = require_nonce
        self.replays = ReplayCache(nonce_cache_size)

    def check(self, hit: SignedHit, *, hosts: Collection[str] | None = None) -> SignatureCheck:
        """The verdict on one forwarded hit's signature; never raises.

        `hosts`: the property's hostnames; when given, the signed authority must be one of them,
        else a genuine signature on a request to another site could be forwarded as a hit here.
        """
        try:
            return self._check(hit, hosts)
        except _Rejected as rejected:
            return rejected.check

    def _check(self, hit: SignedHit, hosts: Collection[str] | None) -> SignatureCheck:
        if len(hit.signature) > MAX_HEADER_CHARS:
            raise _invalid(f"Signature is over {MAX_HEADER_CHARS} characters")
        chosen = _choose(hit.signature_input)
        params = chosen.params
        keyid = params.get("keyid")
        if not isinstance(keyid, str) or not keyid:
            raise _invalid("no keyid")
        if "alg" in params and params["alg"] != ALGORITHM:
            raise _invalid(f"alg {params['alg']!r} is not {ALGORITHM}")
        nonce = params.get("nonce")
        if nonce is not None and not isinstance(nonce, str):
            raise _invalid("nonce is not a string")
        if nonce is None and self._require_nonce:
            raise _invalid("no nonce, so a replay could not be told apart")
        created, expires = self._check_times(params)
        if "@authority" not in chosen.components:
            raise _invalid("the signature does not cover @authority")
        if hit.signature_agent is not None and "signature-agent" not in chosen.components:
            raise _invalid("Signature-Agent is sent but not covered by the signature")
        if hosts is not None and _host(hit.authority) not in {_host(h) for h in hosts}:
            raise _invalid(f"signed for {hit.authority!r}, not this property's host")
        directory, key = self._find_key(hit, chosen, keyid, created)
        self._verify(hit, chosen, key, directory.operator)
        if nonce is not None and not self.replays.first_use(
            keyid, nonce, until=expires + self._max_skew_s, now=self._clock()
        ):
            raise _invalid("replayed: this nonce was already used", directory.operator)
        covered = " ".join(chosen.components)
        return SignatureCheck(
            "valid", directory.operator, f"signed by {directory.origin} ({covered})"
        )

    def _check_times(self, params: dict[str, object]) -> tuple[int, int]:
        created, expires = params.get("created"), params.get("expires")
        if type(created) is not int or type(expires) is not int:
            raise _invalid("created and expires must both be integers")
        now = self._clock()
        if created > now + self._max_skew_s:
            raise _invalid(f"created {created} is in the future")
        if expires < now - self._max_skew_s:
            raise _invalid(f"expired at {expires}")
        if expires <= created:
            raise _invalid("expires is not after created")
        if expires - created > self._max_window_s:
            raise _invalid(f"window of {expires - created} s is over {self._max_window_s} s")
        return created, expires

    def _find_key(
        self, hit: SignedHit, chosen: _Chosen, keyid: str, created: int
    ) -> tuple[KeyDirectory, DirectoryKey]:
        if hit.signature_agent is None:
            candidates = self.directories  # no Signature-Agent: any known agent's key will do
        else:
            origin = _agent_origin(hit.signature_agent, chosen.agent_key)
            directory = self._by_origin.get(origin)
            if directory is None:
                raise _Rejected("unknown_key", f"no key directory known for {origin}")
            candidates = (directory,)
        for directory in candidates:
            for key in directory.keys:
                if key.keyid != keyid:
                    continue
                if not key.usable_at(created):
                    raise _Rejected(
                        "unknown_key",
                        f"key {keyid} is outside its validity in the {directory.origin} directory"
                        f" as of {directory.as_of:%Y-%m-%d} (a refresh may renew it)",
                        directory.operator,
                    )
                return directory, key
        where = candidates[0].origin if len(candidates) == 1 else "any known directory"
        raise _Rejected("unknown_key", f"key {keyid} is not in {where}")

    def _verify(self, hit: SignedHit, chosen: _Chosen, key: DirectoryKey, operator: str) -> None:
        if not hit.path.startswith("/"):
            raise _invalid(f"path {hit.path[:100]!r} does not start with /")
        headers = {"Signature": hit.signature, "Signature-Input": hit.signature_input}
        if hit.signature_agent is not None:
            headers["Signature-Agent"] = hit.signature_agent
        # The scheme is not forwarded; https is what agents sign for (only @scheme or
        # @target-uri would depend on it).
        message = _Message(hit.method, f"https://{hit.authority}{hit.path}", headers)
        verifier = _Verifier(
            signature_algorithm=algorithms.ED25519,
            key_resolver=MappingKeyResolver(
                public_keys={key.keyid: key.public_key}, private_keys={}
            ),
        )
        try:
            verifier.verify(
                message,
                max_age=None,
                expect_tag=TAG,
                expect_label=chosen.label,
                require_components=("@authority",),
            )
        except HTTPMessageSignaturesException as exc:
            raise _invalid(
                f"signature does not verify: {exc or type(exc).__name__}", operator
            ) from None
        except (ValueError, TypeError, KeyError) as exc:  # malformed input the library let through
            raise _invalid(f"signature does not verify: {exc}", operator) from None


def load(
    data_dir: Path | None = None,
    *,
    sources: Iterable[DirectorySource] = KEY_DIRECTORIES,
    clock: Callable[[], float] = time.time,
) -> WebBotAuth:
    """A checker over the vendored key directories and the refreshed ones in data_dir."""
    return WebBotAuth(load_directories(data_dir, sources), clock=clock)


__all__ = [
    "ReplayCache",
    "SignatureCheck",
    "WebBotAuth",
    "load",
    "parse_directory",
]
