"""Console clients for tests: sign in over real HTTP as a browser would (form, cookies)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx

from tests.conftest import ADMIN_TOKEN, Server

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    form = client.get("/console/signin")
    return client.post("/console/signin", data={"token": token, "csrf_token": csrf_of(form.text)})


@contextlib.contextmanager
def console(server: Server, token: str | None = ADMIN_TOKEN) -> Iterator[httpx.Client]:
    """A client of the console, signed in with `token` (None: not signed in)."""
    with httpx.Client(base_url=server.url, timeout=15) as client:
        if token is not None:
            answer = sign_in(client, token)
            assert answer.status_code == 303, answer.text
        yield client


def read_token(admin: httpx.Client, project_id: str, name: str = "partner") -> dict[str, str]:
    """A project read token from the admin API: {id, token, ...}."""
    answer = admin.post(f"/projects/{project_id}/read-tokens", json={"name": name})
    assert answer.status_code == 201, answer.text
    body: dict[str, str] = answer.json()
    return body
