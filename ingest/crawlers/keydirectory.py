"""Web Bot Auth key directories: which agent origins publish keys, and parsing what they publish.

An agent publishes its Ed25519 public keys as a JWKS at
`<origin>/.well-known/http-message-signatures-directory` (draft-meunier-http-message-signatures-
directory). A signature's `keyid` is the key's JWK thumbprint (RFC 7638), so keys are indexed by
the thumbprint computed here, never by the `kid` a directory states.

The vendored snapshots live in ingest/crawlers/data/keys/ (README.md there names each source);
`optiview crawlers refresh` writes fresher copies to `refreshed_path(data_dir, source)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)

WELL_KNOWN_PATH = "/.well-known/http-message-signatures-directory"
VENDORED_DIR = Path(__file__).parent / "data" / "keys"

MAX_DIRECTORY_BYTES = 64 * 1024
MAX_KEYS_PER_DIRECTORY = 32
ED25519_KEY_BYTES = 32

# Keys whose private half is published (RFC 9421 Appendix B.1.4, used by Cloudflare's research demo
# agent and by many examples): a signature made with one proves nothing about who made it.
PUBLISHED_TEST_KEYIDS = frozenset({"poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"})


@dataclass(frozen=True, slots=True)
class DirectorySource:
    name: str  # file stem, e.g. "chatgpt.com"
    operator: str  # who runs the agent, e.g. "OpenAI"
    origin: str  # the Signature-Agent origin, e.g. "https://chatgpt.com"
    url: str  # where the directory is served (the draft forbids following redirects to it)
    snapshot_date: datetime | None  # when the vendored copy was taken; None: not vendored

    @property
    def vendored_path(self) -> Path:
        return VENDORED_DIR / f"{self.name}.json"


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# The agents known to sign with Web Bot Auth. Dates and provenance: data/keys/README.md.
KEY_DIRECTORIES: tuple[DirectorySource, ...] = (
    DirectorySource(
        "chatgpt.com",
        "OpenAI",
        "https://chatgpt.com",
        "https://chatgpt.com" + WELL_KNOWN_PATH,
        _day("2026-08-09"),
    ),
    DirectorySource(
        "shopify.com",
        "Shopify",
        "https://shopify.com",
        # Shopify serves it on www.shopify.com while its agents name https://shopify.com.
        "https://www.shopify.com" + WELL_KNOWN_PATH,
        _day("2026-08-09"),
    ),
    DirectorySource(
        "agent.bot.goog",
        "Google",
        "https://agent.bot.goog",
        "https://agent.bot.goog" + WELL_KNOWN_PATH,
        None,
    ),
)


@dataclass(frozen=True, slots=True)
class DirectoryKey:
    keyid: str  # the RFC 7638 thumbprint, what Signature-Input's keyid names
    public_key: Ed25519PublicKey
    not_before: int | None  # the JWK's nbf (epoch seconds), when stated
    not_after: int | None  # the JWK's exp

    def usable_at(self, when: int) -> bool:
        if self.not_before is not None and when < self.not_before:
            return False
        return self.not_after is None or when <= self.not_after


@dataclass(frozen=True, slots=True)
class KeyDirectory:
    operator: str
    origin: str
    keys: tuple[DirectoryKey, ...]
    as_of: datetime  # the snapshot's date or the refreshed file's modification time


def refreshed_path(data_dir: Path, source: DirectorySource) -> Path:
    return data_dir / "keys" / f"{source.name}.json"


def normalize_origin(url: str) -> str | None:
    """`https://Chatgpt.com/` -> `https://chatgpt.com`; None when it is not an http(s) origin."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].lower()
    if not host or "@" in host or any(c.isspace() for c in host):
        return None
    return f"{scheme.lower()}://{host}"


def jwk_thumbprint(crv: str, x: str) -> str:
    # RFC 7638 section 3.2: the required members in lexicographic order, no whitespace.
    canonical = json.dumps({"crv": crv, "kty": "OKP", "x": x}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    if any(c in text for c in "+/="):
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _optional_time(jwk: dict[str, object], name: str, index: int) -> int | None:
    value = jwk.get(name)
    if value is None:
        return None
    if type(value) is not int:
        raise ValueError(f"key {index}: {name} must be an integer (epoch seconds)")
    return value


def _parse_key(jwk: object, index: int) -> DirectoryKey | None:
    """One JWK -> its key; None for key types Web Bot Auth does not use here (RSA, EC)."""
    if not isinstance(jwk, dict):
        raise ValueError(f"key {index}: not a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValueError(f"key {index}: Ed25519 key without a string x")
    try:
        raw = _b64url_decode(x)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"key {index}: x is not base64url ({exc})") from None
    if len(raw) != ED25519_KEY_BYTES:
        raise ValueError(f"key {index}: x is {len(raw)} bytes, an Ed25519 key is 32")
    keyid = jwk_thumbprint("Ed25519", x)
    if keyid in PUBLISHED_TEST_KEYIDS:
        log.warning("key directory: dropping the published RFC 9421 test key %s", keyid)
        return None
    return DirectoryKey(
        keyid=keyid,
        public_key=Ed25519PublicKey.from_public_bytes(raw),
        not_before=_optional_time(jwk, "nbf", index),
        not_after=_optional_time(jwk, "exp", index),
    )


def parse_directory(data: bytes) -> tuple[DirectoryKey, ...]:
    """A downloaded or stored directory -> its Ed25519 keys; ValueError saying why it is unusable.

    Accepts the JWKS shape (`{"keys": [...]}`, what the draft specifies) and a bare single JWK
    (what some agents serve). Keys of other types are skipped; a malformed Ed25519 key, or a
    directory without any usable Ed25519 key, is an error so a refresh never replaces a good copy
    with a broken one.
    """
    if len(data) > MAX_DIRECTORY_BYTES:
        raise ValueError(f"directory is {len(data)} bytes, over the {MAX_DIRECTORY_BYTES} limit")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"directory is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("directory is not a JSON object")
    if "keys" in doc:
        entries = doc["keys"]
        if not isinstance(entries, list):
            raise ValueError('directory "keys" is not a list')
    elif "kty" in doc:
        entries = [doc]
    else:
        raise ValueError('directory has neither "keys" nor a bare JWK')
    if len(entries) > MAX_KEYS_PER_DIRECTORY:
        raise ValueError(f"directory lists {len(entries)} keys, over {MAX_KEYS_PER_DIRECTORY}")
    keys = tuple(k for i, jwk in enumerate(entries) if (k := _parse_key(jwk, i)) is not None)
    if not keys:
        raise ValueError("directory holds no usable Ed25519 key")
    return keys


def _read(path: Path, source: DirectorySource, as_of: datetime) -> KeyDirectory | None:
    try:
        keys = parse_directory(path.read_bytes())
    except (OSError, ValueError) as exc:
        log.warning("key directory %s at %s unusable: %s", source.name, path, exc)
        return None
    return KeyDirectory(operator=source.operator, origin=source.origin, keys=keys, as_of=as_of)


def load_directories(
    data_dir: Path | None = None, sources: Iterable[DirectorySource] = KEY_DIRECTORIES
) -> list[KeyDirectory]:
    """Each source's newest readable copy: the refreshed one in data_dir or the vendored one."""
    found: list[KeyDirectory] = []
    for source in sources:
        candidates: list[KeyDirectory] = []
        if source.snapshot_date is not None:
            vendored = _read(source.vendored_path, source, source.snapshot_date)
            if vendored is not None:
                candidates.append(vendored)
        if data_dir is not None:
            path = refreshed_path(data_dir, source)
            if path.exists():
                mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                refreshed = _read(path, source, mtime)
                if refreshed is not None:
                    candidates.append(refreshed)
        if candidates:
            found.append(max(candidates, key=lambda d: d.as_of))
    return found


__all__ = [
    "KEY_DIRECTORIES",
    "WELL_KNOWN_PATH",
    "DirectoryKey",
    "DirectorySource",
    "KeyDirectory",
    "jwk_thumbprint",
    "load_directories",
    "normalize_origin",
    "parse_directory",
    "refreshed_path",
]
