"""The authorization decision as a table: (grant, origin, secret) -> answer."""

from dataclasses import replace

import pytest

from ingest import keys
from ingest.collect.authorize import Grant, bearer_secret, decide
from ingest.collect.parse import EventBatch, IncomingEvent
from ingest.errors import ApiError

NOW = 1_800_000_000_000
PEPPER = b"pepper"
SECRET = "ovsk_right"
GRANT = Grant(
    key_id="key_1",
    property_id=7,
    project_id="prj_1",
    status="active",
    expires_at=None,
    secret_hash=keys.hash_secret(SECRET, PEPPER),
    property_domain="example.com",
    property_active=True,
)
EVENT = IncomingEvent("click", None, None, None, None, NOW, None, None, None)
BATCH = EventBatch("key_1", "prj_1", 7, (EVENT,))


def answer(grant=GRANT, origin="https://example.com", secret=None, batch=BATCH):
    try:
        access = decide(batch, grant, origin=origin, secret=secret, now_ms=NOW, pepper=PEPPER)
    except ApiError as error:
        return error.status, error.code.value
    return 202, "server" if access.server else access.origin


@pytest.mark.parametrize(
    ("case", "kwargs", "expected"),
    [
        ("browser on the property's site", {}, (202, "https://example.com")),
        (
            "www and port are ignored",
            {"origin": "http://www.example.com:8080"},
            (202, "http://www.example.com:8080"),
        ),
        ("server with the secret", {"origin": None, "secret": SECRET}, (202, "server")),
        ("server with an Origin too", {"secret": SECRET}, (202, "server")),
        ("unknown key", {"grant": None}, (401, "invalid_key")),
        ("wrong secret", {"secret": "ovsk_wrong"}, (401, "invalid_key")),
        ("revoked key", {"grant": replace(GRANT, status="revoked")}, (401, "key_revoked")),
        ("expired key", {"grant": replace(GRANT, expires_at=NOW)}, (401, "key_expired")),
        (
            "expires later",
            {"grant": replace(GRANT, expires_at=NOW + 1)},
            (202, "https://example.com"),
        ),
        (
            "key of another property",
            {"grant": replace(GRANT, property_id=8)},
            (403, "key_not_linked"),
        ),
        (
            "property of another project",
            {"grant": replace(GRANT, project_id="prj_2")},
            (403, "key_not_linked"),
        ),
        (
            "inactive property",
            {"grant": replace(GRANT, property_active=False)},
            (403, "property_inactive"),
        ),
        ("no origin and no secret", {"origin": None}, (403, "origin_not_allowed")),
        ("foreign origin", {"origin": "https://evil.com"}, (403, "origin_not_allowed")),
        (
            "subdomain of the property",
            {"origin": "https://shop.example.com"},
            (403, "origin_not_allowed"),
        ),
        (
            "look-alike suffix",
            {"origin": "https://example.com.evil.net"},
            (403, "origin_not_allowed"),
        ),
        ("look-alike prefix", {"origin": "https://evil-example.com"}, (403, "origin_not_allowed")),
        ("null origin", {"origin": "null"}, (403, "origin_not_allowed")),
        (
            "revoked even with the secret",
            {"grant": replace(GRANT, status="revoked"), "secret": SECRET},
            (401, "key_revoked"),
        ),
    ],
)
def test_decision(case: str, kwargs: dict[str, object], expected: tuple[int, str]):
    assert answer(**kwargs) == expected, case


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("Bearer ovsk_x", "ovsk_x"), ("bearer  ovsk_y ", "ovsk_y")],
)
def test_bearer_secret(header: str | None, expected: str | None):
    assert bearer_secret(header) == expected


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer   ", "ovsk_x"])
def test_malformed_authorization_is_401(header: str):
    with pytest.raises(ApiError) as caught:
        bearer_secret(header)
    assert caught.value.status == 401
