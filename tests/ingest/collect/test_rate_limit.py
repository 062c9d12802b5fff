"""The per-key token bucket over HTTP, on a server with a small limit."""

from collections.abc import Iterator

import pytest

from tests.conftest import Server, serving
from tests.ingest.collect.conftest import Site, provision_on


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serving(
        tmp_path_factory.mktemp("limited") / "optiview.db",
        OPTIVIEW_RATE_LIMIT_PER_KEY="0.5",
        OPTIVIEW_RATE_LIMIT_BURST="3",
    )


@pytest.fixture
def limited_site(limited_server: Server) -> Site:
    return provision_on(limited_server)


def test_over_the_limit_is_429_with_retry_after_and_nothing_stored(limited_site: Site):
    answers = [limited_site.send(limited_site.pageview(f"/{i}")) for i in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    refused = answers[3]
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["retry-after"]) == 2
    # the partner's page can read the refusal
    assert refused.headers["access-control-allow-origin"] == limited_site.origin
    assert [r[1] for r in limited_site.events()] == ["/0", "/1", "/2"]


def test_keys_are_limited_separately(limited_site: Site, limited_server: Server):
    other = provision_on(limited_server)
    for _ in range(3):
        limited_site.send()
    assert limited_site.send().status_code == 429
    assert other.send().status_code == 202
