"""`optiview read-token create|list|revoke` on the database file, and the token it prints
reads the project over HTTP (so the CLI and the server agree on the hash)."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from tests.conftest import ADMIN_TOKEN, INLINE_WRITER, optiview, service_env, serving


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    db = tmp_path / "optiview.db"
    env = service_env(db)
    # The server migrates the file and makes the org and project (the admin API: no CLI
    # start for what this test is not about); the CLI works on the file meanwhile.
    for server in serving(db, **INLINE_WRITER):
        with httpx.Client(
            base_url=f"{server.url}/api/admin",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        ) as admin:
            org = admin.post("/orgs", json={"name": "A", "domain": "a-shop.com", "plan": "pro"})
            assert org.status_code == 201, org.text
            made = admin.post(
                f"/orgs/{org.json()['id']}/projects", json={"name": "Main", "domain": "a-shop.com"}
            )
            assert made.status_code == 201, made.text
            project = made.json()["id"]

        created = optiview(
            "read-token", "create", "--project", project, "--name", "Partner", env=env
        )
        assert created.returncode == 0, created.stderr
        token = orjson.loads(created.stdout)
        assert token["token"].startswith("ovrt_") and "shown this once" in created.stderr

        listed = orjson.loads(
            optiview("read-token", "list", "--project", project, env=env, check=True).stdout
        )["read_tokens"]
        assert [t["id"] for t in listed] == [token["id"]] and "token" not in listed[0]

        url = f"{server.url}/api/v1/projects/{project}/stats/timeseries"
        headers = {"Authorization": f"Bearer {token['token']}"}
        assert httpx.get(url, headers=headers, timeout=10).status_code == 200
        revoked = optiview("read-token", "revoke", "--project", project, token["id"], env=env)
        assert revoked.returncode == 0 and orjson.loads(revoked.stdout)["status"] == "revoked"
        assert httpx.get(url, headers=headers, timeout=10).status_code == 401

    missing = optiview("read-token", "list", "--project", "prj_nosuch", env=env)
    assert missing.returncode == 1 and "not_found" in missing.stderr
