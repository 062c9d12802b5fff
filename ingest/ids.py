"""Random public identifiers: a type prefix plus base62 characters."""

from __future__ import annotations

import secrets
import string

BASE62 = string.digits + string.ascii_letters
ORG_PREFIX = "org_"
PROJECT_PREFIX = "prj_"
KEY_PREFIX = "key_"
ID_LENGTH = 12
# Key ids are public (they go into the tag) and are looked up on every event: longer, so that
# they cannot be enumerated.
KEY_ID_LENGTH = 16


def new_id(prefix: str, length: int = ID_LENGTH) -> str:
    return prefix + "".join(secrets.choice(BASE62) for _ in range(length))


def new_org_id() -> str:
    return new_id(ORG_PREFIX)


def new_project_id() -> str:
    return new_id(PROJECT_PREFIX)


def new_key_id() -> str:
    return new_id(KEY_PREFIX, KEY_ID_LENGTH)
