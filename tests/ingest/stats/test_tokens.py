"""`optiview read-token create|list|revoke` on the database file, and the token it prints
reads the project over HTTP (so the CLI and the server agree on the hash)."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from tests.conftest import optiview, service_env, serving


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    db = tmp_path / "optiview.db"
    env = service_env(db)
    assert optiview("migrate", env=env).returncode == 0
    org = optiview(
        "org",
        "create",
        "--name",
        "A",
        "--domain",
        "a-shop.com",
        "--plan",
        "pro",
        "--field",
        "id",
        env=env,
        check=True,
    ).stdout.strip()
    project = optiview(
        "project",
        "create",
        "--org",
        org,
        "--name",
        "Main",
        "--domain",
        "a-shop.com",
        "--field",
        "id",
        env=env,
        check=True,
    ).stdout.strip()

    created = optiview("read-token", "create", "--project", project, "--name", "Partner", env=env)
    assert created.returncode == 0, created.stderr
    token = orjson.loads(created.stdout)
    assert token["token"].startswith("ovrt_") and "shown this once" in created.stderr

    listed = orjson.loads(
        optiview("read-token", "list", "--project", project, env=env, check=True).stdout
    )["read_tokens"]
    assert [t["id"] for t in listed] == [token["id"]] and "token" not in listed[0]

    for server in serving(db):
        url = f"{server.url}/api/v1/projects/{project}/stats/timeseries"
        headers = {"Authorization": f"Bearer {token['token']}"}
        assert httpx.get(url, headers=headers, timeout=10).status_code == 200
        revoked = optiview("read-token", "revoke", "--project", project, token["id"], env=env)
        assert revoked.returncode == 0 and orjson.loads(revoked.stdout)["status"] == "revoked"
        assert httpx.get(url, headers=headers, timeout=10).status_code == 401

    missing = optiview("read-token", "list", "--project", "prj_nosuch", env=env)
    assert missing.returncode == 1 and "not_found" in missing.stderr
