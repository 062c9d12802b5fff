"""The per-key token bucket over HTTP, on a server with a small limit."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import INLINE_WRITER, Server, serving
from tests.ingest.collect.conftest import Site, provision_on


@pytest.fixture(scope="module")
def limited_server(db_location: Path | str) -> Iterator[Server]:
    yield from serving(
        db_location,
        # A token every 10 s: no test here waits for one, and a slow, loaded machine cannot
        # refill one between a test's requests (at 0.5/s it did, within 2 s).
        OPTIVIEW_RATE_LIMIT_PER_KEY="0.1",
        OPTIVIEW_RATE_LIMIT_BURST="3",
        **INLINE_WRITER,
    )


@pytest.fixture
def limited_site(limited_server: Server) -> Site:
    return provision_on(limited_server)


def test_over_the_limit_is_429_with_retry_after_and_nothing_stored(limited_site: Site):
    answers = [limited_site.send(limited_site.pageview(f"/{i}")) for i in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    refused = answers[3]
    assert refused.json()["error"] == "rate_limited"
    # The seconds until the next token: 10 less the time the three requests took, rounded up.
    assert 7 <= int(refused.headers["retry-after"]) <= 10
    # the partner's page can read the refusal
    assert refused.headers["access-control-allow-origin"] == limited_site.origin
    assert [r[1] for r in limited_site.events()] == ["/0", "/1", "/2"]


def test_keys_are_limited_separately(limited_site: Site, limited_server: Server):
    other = provision_on(limited_server)
    for _ in range(3):
        limited_site.send()
    assert limited_site.send().status_code == 429
    assert other.send().status_code == 202


def exhaust(site: Site) -> None:
    """Spend the burst and get refused once, so the server is refusing this key."""
    for _ in range(3):
        assert site.send().status_code == 202
    assert site.send().status_code == 429


def test_a_key_over_its_limit_is_refused_before_its_events_are_read(limited_site: Site):
    exhaust(limited_site)
    malformed = limited_site.send({"type": "no-such-type"})
    assert malformed.status_code == 429, malformed.text  # the parse would have said 400
    assert malformed.json()["error"] == "rate_limited"
    assert int(malformed.headers["retry-after"]) >= 1
    assert malformed.headers["access-control-allow-origin"] == limited_site.origin
    assert malformed.headers["vary"] == "Origin"
    # a server sending with the key's secret is refused the same way
    server = limited_site.send(
        origin=None, headers={"Authorization": f"Bearer {limited_site.secret}"}
    )
    assert server.status_code == 429 and "retry-after" in server.headers
    assert "access-control-allow-origin" not in server.headers


def test_while_a_key_is_refused_other_answers_are_unchanged(limited_site: Site):
    exhaust(limited_site)
    unknown = limited_site.send(key_id="key_nobody_has_this")
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_key"
    foreign = limited_site.send(origin="https://elsewhere.example")
    assert foreign.status_code == 403 and foreign.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in foreign.headers
    no_origin = limited_site.send(origin=None)
    assert no_origin.status_code == 403 and no_origin.json()["error"] == "origin_not_allowed"
    forged = limited_site.send(origin=None, headers={"Authorization": "Bearer ovsk_guessed"})
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_key"
    other_property = limited_site.send(property_id=limited_site.property_id + 1000)
    assert other_property.status_code == 403
    assert other_property.json()["error"] == "key_not_linked"
    not_json = limited_site.send(body=b"{not json")
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_json"


def test_requests_that_fail_authorization_cannot_drain_the_keys_bucket(limited_site: Site):
    """Key ids are public: a page on another origin, or a client with a made-up secret,
    naming the key must not use up the site's own allowance."""
    for _ in range(10):
        assert limited_site.send(origin="https://attacker.example").status_code == 403
        forged = limited_site.send(origin=None, headers={"Authorization": "Bearer ovsk_x"})
        assert forged.status_code == 401
    assert [limited_site.send().status_code for _ in range(4)] == [202, 202, 202, 429]
