"""How strong the production secrets must be, and `optiview secrets`, which prints fresh ones."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

# 32 characters of a generated token carry at least 128 bits (hex: 4 bits each); a shorter
# admin token or pepper is within reach of an offline guess once a hash or a log leaks.
MIN_SECRET_CHARS = 32
PRODUCTION_SECRETS = ("OPTIVIEW_ADMIN_TOKEN", "KEY_HASH_SECRET")


def weak_secrets(values: Mapping[str, str]) -> list[str]:
    """The production secrets shorter than MIN_SECRET_CHARS, each with its length, as messages."""
    return [
        f"{name} has {len(values[name])} characters; production needs at least {MIN_SECRET_CHARS}"
        for name in PRODUCTION_SECRETS
        if len(values[name]) < MIN_SECRET_CHARS
    ]


def generate() -> dict[str, str]:
    return {
        "OPTIVIEW_ADMIN_TOKEN": secrets.token_urlsafe(32),  # 43 characters, 256 bits
        "KEY_HASH_SECRET": secrets.token_hex(32),  # 64 characters, 256 bits
    }


def env_text(values: Mapping[str, str]) -> str:
    return (
        "# Fresh secrets from `optiview secrets`; keep them out of version control.\n"
        "# Changing KEY_HASH_SECRET makes every key issued so far unusable: rotate the keys too.\n"
        + "".join(f"{name}={value}\n" for name, value in values.items())
    )


def register(sub: Any) -> None:
    """Add `secrets` to the optiview command."""
    sub.add_parser(
        "secrets",
        help="print a fresh OPTIVIEW_ADMIN_TOKEN and KEY_HASH_SECRET in .env form",
        description=f"Print strong random values (at least {MIN_SECRET_CHARS} characters, as"
        " production requires) for OPTIVIEW_ADMIN_TOKEN and KEY_HASH_SECRET, in .env form."
        " Nothing is read or written.",
    )
