"""The console's signed session cookie: who signed in (scope), until when, and with which token.

The cookie holds no token, only the token's id, so a revoked read token (or a changed admin
token) ends the session at its next request. It is signed with a key derived from
KEY_HASH_SECRET, so nobody without that secret can forge or alter one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

COOKIE = "ov_session"
LIFETIME_MS = 12 * 3600 * 1000  # a working day; signing in again is cheap


def console_key(key_hash_secret: bytes, purpose: str) -> bytes:
    """A key for one purpose, so the session key is never the key that hashes key secrets."""
    return hmac.new(
        key_hash_secret, b"optiview console " + purpose.encode(), hashlib.sha256
    ).digest()


def admin_token_id(key_hash_secret: bytes, admin_token: str) -> str:
    """A stable id for the admin token: a session signed in with an older admin token ends."""
    digest = hmac.new(console_key(key_hash_secret, "admin id"), admin_token.encode(), "sha256")
    return "admin:" + digest.hexdigest()[:16]


@dataclass(frozen=True)
class Session:
    admin: bool
    project_id: str | None  # the only project a read token may see; None for the admin
    token_id: str
    expires_ms: int
    sid: str  # random per sign-in; binds the CSRF token to this session

    @classmethod
    def new(cls, admin: bool, project_id: str | None, token_id: str, now_ms: int) -> Session:
        return cls(admin, project_id, token_id, now_ms + LIFETIME_MS, secrets.token_urlsafe(16))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(session: Session, key: bytes) -> str:
    body = _b64(
        orjson.dumps(
            {
                "a": session.admin,
                "p": session.project_id,
                "t": session.token_id,
                "e": session.expires_ms,
                "s": session.sid,
            }
        )
    )
    return body + "." + _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def decode(value: str, key: bytes, now_ms: int) -> Session | None:
    """The session in a cookie, or None when it is missing, altered, malformed or expired."""
    body, _, signature = value.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        return None
    try:
        data = orjson.loads(_unb64(body))
        session = Session(
            admin=bool(data["a"]),
            project_id=data["p"] if isinstance(data["p"], str) else None,
            token_id=str(data["t"]),
            expires_ms=int(data["e"]),
            sid=str(data["s"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires_ms > now_ms else None
