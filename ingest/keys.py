"""Key secrets: generated once, stored only as HMAC-SHA256 peppered with KEY_HASH_SECRET."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "ovsk_"  # noqa: S105 (a label, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str, pepper: bytes) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored_hash: str, pepper: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret, pepper), stored_hash)
