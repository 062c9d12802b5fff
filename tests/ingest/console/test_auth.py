"""Console sign-in over real HTTP: the session cookie, CSRF on every form, sign-out, and what
a read token may not see or do."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import ADMIN_TOKEN, INLINE_WRITER, Server, serving
from tests.ingest.collect.conftest import Site, provision_on
from tests.ingest.console.helpers import console, csrf_of, read_token, sign_in


@pytest.fixture(scope="module")
def server(db_location: Path | str) -> Iterator[Server]:
    """The module's server, on each backend in turn (sessions read read_tokens on both)."""
    yield from serving(db_location, **INLINE_WRITER)


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url + "/api/admin", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def ours(server: Server) -> Site:
    return provision_on(server)


@pytest.fixture(scope="module")
def theirs(server: Server) -> Site:
    return provision_on(server)


def session_cookie(answer: httpx.Response) -> str:
    headers = [h for h in answer.headers.get_list("set-cookie") if h.startswith("ov_session=")]
    assert len(headers) == 1, answer.headers
    return headers[0]


def test_pages_send_a_visitor_without_session_to_sign_in(server: Server, ours: Site) -> None:
    with console(server, None) as client:
        for path in (
            "/console/",
            f"/console/projects/{ours.project_id}/install",
            "/console/health",
        ):
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/console/signin"
        assert client.get("/console").headers["location"] == "/console/"


def test_admin_sign_in_sets_a_strict_httponly_cookie_without_the_token(server: Server) -> None:
    with console(server, None) as client:
        answer = sign_in(client, ADMIN_TOKEN)
        assert answer.status_code == 303
        cookie = session_cookie(answer)
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/console"} <= flags
        assert "secure" not in flags  # plain http here; https gets Secure (next test)
        assert ADMIN_TOKEN not in cookie
        value = cookie.split(";")[0].split("=", 1)[1]
        body = orjson.loads(base64.urlsafe_b64decode(value.split(".")[0] + "=="))
        assert body["a"] is True and ADMIN_TOKEN not in str(body)
        home = client.get("/console/")
        assert home.status_code == 303 or "No projects yet" in home.text


def test_the_cookie_is_secure_when_the_request_is_https(server: Server) -> None:
    # Behind a TLS proxy, uvicorn takes the scheme from X-Forwarded-Proto for trusted peers
    # (127.0.0.1 is trusted by default).
    with console(server, None) as client:
        form = client.get("/console/signin", headers={"X-Forwarded-Proto": "https"})
        assert "secure" in form.headers["set-cookie"].lower()
        # httpx keeps no Secure cookie for an http URL: send it back as a browser over https
        presession = form.headers["set-cookie"].split(";")[0]
        answer = client.post(
            "/console/signin",
            data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text)},
            headers={"X-Forwarded-Proto": "https", "Cookie": presession},
        )
        flags = {part.strip().lower() for part in session_cookie(answer).split(";")}
        assert "secure" in flags


def test_a_wrong_token_is_refused_and_sets_no_session(server: Server) -> None:
    with console(server, None) as client:
        answer = sign_in(client, "not-the-token")
        assert answer.status_code == 401
        assert "not valid" in answer.text
        assert "ov_session" not in answer.headers.get("set-cookie", "")
        assert client.get("/console/").status_code == 303


def test_sign_in_without_its_csrf_token_is_refused(server: Server) -> None:
    with console(server, None) as client:
        client.get("/console/signin")
        answer = client.post("/console/signin", data={"token": ADMIN_TOKEN})
        assert answer.status_code == 403
        forged = client.post(
            "/console/signin", data={"token": ADMIN_TOKEN, "csrf_token": "00" * 32}
        )
        assert forged.status_code == 403
        assert "ov_session" not in forged.headers.get("set-cookie", "")


def test_a_forged_or_altered_cookie_is_no_session(server: Server) -> None:
    with console(server) as client:
        real = client.cookies["ov_session"]
        body, signature = real.split(".")
        data = orjson.loads(base64.urlsafe_b64decode(body + "=="))
        data["p"] = "someone-else"
        altered = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()
        client.cookies.set("ov_session", f"{altered}.{signature}", path="/console")
        assert client.get("/console/").headers["location"] == "/console/signin"


def test_every_form_post_needs_the_session_csrf_token(
    server: Server, admin: httpx.Client, ours: Site
) -> None:
    posts = {
        "/console/signout": {},
        "/console/tz": {"tz": "Asia/Kolkata", "back": "/console/"},
        f"/console/projects/{ours.project_id}/sources": {"enabled": "chatgpt"},
        "/console/health/test-alert": {},
    }
    with console(server) as client:
        page = client.get(f"/console/projects/{ours.project_id}/sources")
        token = csrf_of(page.text)
        for path, data in posts.items():
            assert client.post(path, data=data).status_code == 403, path
            other = client.post(path, data={**data, "csrf_token": "ab" * 32})
            assert other.status_code == 403, path
        # a CSRF token of another session does not do either
        with console(server) as second:
            assert (
                second.post("/console/tz", data={"tz": "UTC", "csrf_token": token}).status_code
                == 403
            )
        # the refusals changed nothing: still signed in, sources as they were
        enabled = admin.get(f"/projects/{ours.project_id}/sources").json()["enabled"]
        assert enabled == ["chatgpt", "claude", "perplexity", "gemini"]
        assert client.get("/console/health").status_code == 200


def test_sign_out_ends_the_session(server: Server) -> None:
    with console(server) as client:
        page = client.get("/console/health")
        answer = client.post("/console/signout", data={"csrf_token": csrf_of(page.text)})
        assert answer.status_code == 303 and answer.headers["location"] == "/console/signin"
        assert 'ov_session=""' in answer.headers["set-cookie"]
        assert client.get("/console/health").headers["location"] == "/console/signin"


def test_the_time_zone_is_remembered_per_browser(server: Server, ours: Site) -> None:
    path = f"/console/projects/{ours.project_id}/data-policy"
    with console(server) as client:
        page = client.get(path)
        assert "Times in UTC" in page.text
        chosen = client.post(
            "/console/tz",
            data={"tz": "Asia/Kolkata", "back": path, "csrf_token": csrf_of(page.text)},
        )
        assert chosen.status_code == 303 and chosen.headers["location"] == path
        cookie = chosen.headers["set-cookie"].lower()
        assert "ov_tz=" in cookie and "asia/kolkata" in cookie and "samesite=strict" in cookie
        again = client.get(path)
        assert "Times in Asia/Kolkata" in again.text and "UTC+05:30" in again.text
        # an unknown zone is not stored, and a redirect never leaves the console
        bad = client.post(
            "/console/tz",
            data={
                "tz": "Mars/Base",
                "back": "https://evil.example/",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert bad.headers["location"] == "/console/" and "ov_tz" not in bad.headers.get(
            "set-cookie", ""
        )


def test_a_read_token_sees_its_project_only(
    server: Server, admin: httpx.Client, ours: Site, theirs: Site
) -> None:
    token = read_token(admin, ours.project_id)
    with console(server, token["token"]) as client:
        home = client.get("/console/")
        assert home.headers["location"] == f"/console/projects/{ours.project_id}/install"
        for page in ("install", "sources", "data-policy"):
            own = client.get(f"/console/projects/{ours.project_id}/{page}")
            assert own.status_code == 200, page
            assert theirs.project_id not in own.text  # the picker lists its project only
            other = client.get(f"/console/projects/{theirs.project_id}/{page}")
            assert other.status_code == 403, page
        verify = client.get(f"/console/projects/{theirs.project_id}/install/verify")
        assert verify.status_code == 403
        assert client.get(f"/console/go?project={theirs.project_id}").status_code == 404


def test_a_read_token_has_no_admin_action(server: Server, admin: httpx.Client, ours: Site) -> None:
    token = read_token(admin, ours.project_id)
    before = admin.get(f"/projects/{ours.project_id}/sources").json()["enabled"]
    with console(server, token["token"]) as client:
        page = client.get(f"/console/projects/{ours.project_id}/sources")
        assert "Save sources" not in page.text and "Read-only" in page.text
        csrf = csrf_of(page.text)
        toggled = client.post(
            f"/console/projects/{ours.project_id}/sources", data={"csrf_token": csrf}
        )
        assert toggled.status_code == 403
        assert client.get("/console/health").status_code == 403
        alert = client.post("/console/health/test-alert", data={"csrf_token": csrf})
        assert alert.status_code == 403
        assert (
            "Health"
            not in client.get(f"/console/projects/{ours.project_id}/install").text.split("<main>")[
                0
            ]
        )
    assert admin.get(f"/projects/{ours.project_id}/sources").json()["enabled"] == before
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get("/api/admin/health").status_code == 401


def test_revoking_a_read_token_ends_its_sessions(
    server: Server, admin: httpx.Client, ours: Site
) -> None:
    token = read_token(admin, ours.project_id, "to revoke")
    with console(server, token["token"]) as client:
        path = f"/console/projects/{ours.project_id}/install"
        assert client.get(path).status_code == 200
        revoked = admin.delete(f"/projects/{ours.project_id}/read-tokens/{token['id']}")
        assert revoked.status_code == 200
        assert client.get(path).headers["location"] == "/console/signin"
        assert sign_in(client, token["token"]).status_code == 401


def test_an_unknown_project_or_page_is_an_html_404(server: Server) -> None:
    with console(server) as client:
        answer = client.get("/console/projects/prj_nope/install")
        assert answer.status_code == 404 and "text/html" in answer.headers["content-type"]
        assert client.get("/console/nope").status_code == 404
        bad = client.get("/console/projects/prj_nope/install?property_id=x")
        assert bad.status_code in (400, 404) and "text/html" in bad.headers["content-type"]


def test_console_pages_carry_protective_headers(server: Server, ours: Site, tmp_path: Path) -> None:
    with console(server) as client:
        page = client.get(f"/console/projects/{ours.project_id}/install")
        assert page.headers["x-frame-options"] == "DENY"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
