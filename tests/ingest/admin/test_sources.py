from typing import Any

import httpx

from ingest.sources import KNOWN_SOURCES


def flags(body: dict[str, Any]) -> dict[str, bool]:
    return {s["id"]: s["enabled"] for s in body["sources"]}


def test_new_project_starts_with_the_runbook_four(admin: httpx.Client, project: dict[str, Any]):
    body = admin.get(f"/projects/{project['id']}/sources").json()
    assert body["enabled"] == ["chatgpt", "claude", "perplexity", "gemini"]
    assert set(flags(body)) == set(KNOWN_SOURCES)
    assert [k for k, on in flags(body).items() if on] == body["enabled"]


def test_put_enables_exactly_the_given_sources(admin: httpx.Client, project: dict[str, Any]):
    url = f"/projects/{project['id']}/sources"
    response = admin.put(url, json={"enabled": ["Copilot", "chatgpt", "deepseek", "chatgpt"]})
    assert response.status_code == 200
    assert response.json()["enabled"] == ["chatgpt", "copilot", "deepseek"]
    assert admin.get(url).json() == response.json()

    cleared = admin.put(url, json={"enabled": []}).json()
    assert cleared["enabled"] == []
    assert not any(flags(cleared).values())


def test_bad_sources_are_400_and_change_nothing(admin: httpx.Client, project: dict[str, Any]):
    url = f"/projects/{project['id']}/sources"
    for payload, fragment in (
        ({"enabled": ["chatgpt", "bard9000"]}, "unknown source(s) bard9000"),
        ({"enabled": "chatgpt"}, "enabled: must be a list"),
        ({}, "enabled: must be a list"),
        ({"enabled": [1]}, "enabled: must be a list"),
    ):
        response = admin.put(url, json=payload)
        assert response.status_code == 400, payload
        assert fragment in response.json()["detail"]
    assert admin.get(url).json()["enabled"] == ["chatgpt", "claude", "perplexity", "gemini"]


def test_sources_of_unknown_project_are_404(admin: httpx.Client):
    assert admin.get("/projects/prj_none/sources").status_code == 404
    assert admin.put("/projects/prj_none/sources", json={"enabled": []}).status_code == 404
