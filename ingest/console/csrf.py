"""CSRF tokens: every console form carries one; a POST without the right one is refused.

Signed in, the token is an HMAC of the session's random id (session-bound). On the sign-in
form there is no session yet, so it is a signed double submit: an HMAC of a random value kept
in a short-lived cookie.
"""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf_token"
PRESESSION_COOKIE = "ov_presession"


def token_for(key: bytes, binding: str) -> str:
    return hmac.new(key, b"csrf " + binding.encode(), hashlib.sha256).hexdigest()


def valid(key: bytes, binding: str | None, given: str | None) -> bool:
    if not binding or not given:
        return False
    return hmac.compare_digest(token_for(key, binding), given)
