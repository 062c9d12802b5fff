import hashlib
import hmac
import re
from typing import Any

import httpx
import pytest

from tests import dbprobe
from tests.conftest import KEY_HASH_SECRET, Server
from tests.ingest.admin.conftest import created


def stored_hash(server: Server, key_id: str) -> str:
    found = dbprobe.value(server.db, "SELECT secret_hash FROM api_keys WHERE id = ?", (key_id,))
    assert found is not None
    return str(found)


def everything_stored(server: Server) -> str:
    """Every row of every table, as text (what a dump of the database would show)."""
    if dbprobe.is_sqlite(server.db):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    tables = [name for (name,) in dbprobe.rows(server.db, sql)]
    assert "api_keys" in tables
    return "\n".join(
        repr(row) for table in tables for row in dbprobe.rows(server.db, f"SELECT * FROM {table}")
    )


def hmac_of(secret: str) -> str:
    return hmac.new(KEY_HASH_SECRET.encode(), secret.encode(), hashlib.sha256).hexdigest()


def test_new_key_shows_secret_once_and_stores_only_its_hmac(
    admin: httpx.Client, server: Server, key: dict[str, Any], project: dict[str, Any]
):
    assert re.fullmatch(r"key_[0-9A-Za-z]{16}", key["id"])
    assert key["status"] == "active"
    assert key["property_id"] == project["default_property_id"]
    assert key["project_id"] == project["id"]
    assert key["name"] == "Production Website"
    secret = key["secret"]
    assert secret.startswith("ovsk_") and len(secret) >= 5 + 43  # 32 bytes, base64url

    assert stored_hash(server, key["id"]) == hmac_of(secret)
    assert stored_hash(server, key["id"]) in everything_stored(server)
    assert secret not in everything_stored(server)

    shown = admin.get(f"/keys/{key['id']}").json()
    assert "secret" not in shown and "secret_hash" not in shown
    listed = admin.get(f"/properties/{key['property_id']}/keys").json()["keys"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert all("secret" not in k and "secret_hash" not in k for k in listed)


def test_revoke_is_idempotent(admin: httpx.Client, key: dict[str, Any]):
    first = admin.post(f"/keys/{key['id']}/revoke")
    assert first.status_code == 200
    assert first.json()["status"] == "revoked"
    assert first.json()["revoked_at"] is not None
    again = admin.post(f"/keys/{key['id']}/revoke")
    assert again.status_code == 200
    assert again.json()["revoked_at"] == first.json()["revoked_at"]
    assert admin.get(f"/keys/{key['id']}").json()["status"] == "revoked"


def test_rotate_replaces_the_secret_and_keeps_the_id(
    admin: httpx.Client, server: Server, key: dict[str, Any]
):
    response = admin.post(f"/keys/{key['id']}/rotate")
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["id"] == key["id"]
    assert rotated["status"] == "active"
    assert rotated["rotated_at"] is not None
    assert rotated["secret"] != key["secret"]
    assert stored_hash(server, key["id"]) == hmac_of(rotated["secret"])
    assert stored_hash(server, key["id"]) != hmac_of(key["secret"])


def test_revoked_key_cannot_be_rotated(admin: httpx.Client, key: dict[str, Any]):
    admin.post(f"/keys/{key['id']}/revoke")
    response = admin.post(f"/keys/{key['id']}/rotate")
    assert response.status_code == 409
    assert "revoked" in response.json()["detail"]


def test_key_with_future_expiry(admin: httpx.Client, project: dict[str, Any]):
    body = created(
        admin.post(
            f"/properties/{project['default_property_id']}/keys",
            json={"name": "Campaign", "expires_at": "2999-01-01T00:00:00Z"},
        )
    )
    assert body["expires_at"] == "2999-01-01T00:00:00.000Z"
    assert body["status"] == "active"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "name: is required"),
        ({"name": "  "}, "name: must not be empty"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at: must be in the future"),
        ({"name": "x", "expires_at": "next tuesday"}, "is not an ISO 8601 date-time"),
        ({"name": "x", "expires_at": 1234}, "expires_at: must be an ISO 8601"),
    ],
)
def test_bad_key_fields_are_400(
    admin: httpx.Client, project: dict[str, Any], payload: dict[str, object], fragment: str
):
    prop = project["default_property_id"]
    response = admin.post(f"/properties/{prop}/keys", json=payload)
    assert response.status_code == 400
    assert fragment in response.json()["detail"]
    assert admin.get(f"/properties/{prop}/keys").json()["keys"] == []


def test_unknown_ids_are_404(admin: httpx.Client):
    assert admin.post("/properties/987654/keys", json={"name": "x"}).status_code == 404
    assert admin.get("/properties/987654/keys").status_code == 404
    for action in ("revoke", "rotate"):
        response = admin.post(f"/keys/key_unknown/{action}")
        assert response.status_code == 404
        assert response.json()["detail"] == "key key_unknown does not exist"
    assert admin.get("/keys/key_unknown").status_code == 404
