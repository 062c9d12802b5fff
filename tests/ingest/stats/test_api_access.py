"""Who may read: the admin token anywhere, a read token its own project only (403 elsewhere,
401 once revoked), nobody else; tokens shown once and listed without them."""

from __future__ import annotations

import httpx

from tests import dbprobe
from tests.conftest import ADMIN_TOKEN, Server
from tests.ingest.collect.conftest import Site, provision

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def read(
    server: Server, project_id: str, token: str | None, endpoint: str = "timeseries"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{server.url}/api/v1/projects/{project_id}/stats/{endpoint}"
    return httpx.get(url, headers=headers, timeout=10)


def two_sites(server: Server) -> tuple[Site, Site]:
    with httpx.Client(base_url=server.url + "/api/admin", headers=AUTH, timeout=10) as admin:
        return provision(server, admin), provision(server, admin)


def test_a_read_token_reads_its_project_only_until_revoked(
    server: Server, admin: httpx.Client
) -> None:
    mine, theirs = two_sites(server)
    created = admin.post(f"/projects/{mine.project_id}/read-tokens", json={"name": "Partner"})
    assert created.status_code == 201, created.text
    token = created.json()
    assert token["id"].startswith("rt_") and token["token"].startswith("ovrt_")
    assert token["status"] == "active" and token["project_id"] == mine.project_id

    for endpoint in ("timeseries", "content", "journeys", "ai"):
        assert read(server, mine.project_id, token["token"], endpoint).status_code == 200
    other = read(server, theirs.project_id, token["token"])
    assert other.status_code == 403 and other.json()["error"] == "forbidden"
    # Another project that does not exist: still 403, so a token learns nothing of others.
    assert read(server, "prj_nosuchproject", token["token"]).status_code == 403

    # Only the hash is stored; the list never shows the token.
    stored = dbprobe.value(
        server.db, "SELECT token_hash FROM read_tokens WHERE id = ?", (token["id"],)
    )
    assert token["token"] not in stored and len(stored) == 64
    listed = admin.get(f"/projects/{mine.project_id}/read-tokens").json()["read_tokens"]
    assert [t["id"] for t in listed] == [token["id"]] and "token" not in listed[0]

    revoked = admin.delete(f"/projects/{mine.project_id}/read-tokens/{token['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = read(server, mine.project_id, token["token"])
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    again = admin.delete(f"/projects/{mine.project_id}/read-tokens/{token['id']}")
    assert again.status_code == 200  # idempotent
    # A token id of one project cannot be revoked through another.
    assert (
        admin.delete(f"/projects/{theirs.project_id}/read-tokens/{token['id']}").status_code == 404
    )


def test_admin_token_reads_any_project_and_unknown_is_404(server: Server) -> None:
    mine, theirs = two_sites(server)
    assert read(server, mine.project_id, ADMIN_TOKEN).status_code == 200
    assert (
        read(server, theirs.project_id, ADMIN_TOKEN, "breakdown?dimension=country").status_code
        == 200
    )
    missing = read(server, "prj_nosuchproject", ADMIN_TOKEN)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_no_or_a_wrong_token_is_401(server: Server) -> None:
    mine, _ = two_sites(server)
    for token in (None, "ovrt_not-a-token", "wrong"):
        answer = read(server, mine.project_id, token)
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
    # A key secret is not a read token.
    assert read(server, mine.project_id, mine.secret).status_code == 401


def test_read_tokens_of_an_unknown_project_are_404(admin: httpx.Client) -> None:
    assert admin.post("/projects/prj_nosuch/read-tokens", json={"name": "x"}).status_code == 404
    assert admin.get("/projects/prj_nosuch/read-tokens").status_code == 404
    assert admin.post("/projects/prj_nosuch/read-tokens", json={}).status_code == 400
