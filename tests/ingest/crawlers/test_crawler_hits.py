"""Crawler claims through the collector, on both backends: what is stored for a spoofed and a
genuine crawler, which address is checked (the event's ip server to server, the peer or a
trusted proxy's header from a browser), and what ?debug=1 says."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from prometheus_client import REGISTRY

from ingest import metrics
from ingest.crawlers.keydirectory import KEY_DIRECTORIES, jwk_thumbprint
from ingest.crawlers.keydirectory import refreshed_path as key_path
from tests.ingest.crawlers.inprocess import App, Site, provision, running

# One app per backend for the module (each test provisions a site of its own), in the
# module's event loop: starting the app is most of a test's time.
pytestmark = pytest.mark.asyncio(loop_scope="module")

GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot"
CLAUDEBOT = "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
OPENAI_GPTBOT_IP = "20.171.206.9"  # in 20.171.206.0/24 of the vendored gptbot.json
GOOGLEBOT_IP = "66.249.66.1"  # in the vendored googlebot.json
ELSEWHERE = "1.1.1.1"  # a public address in no crawler list (Cloudflare's resolver)
PRIVATE = "10.20.30.40"
COLUMNS = "ua_class, crawler, crawler_kind, crawler_verified"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(
    db_location: Path | str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[App]:
    async with running(db_location, tmp_path_factory.mktemp("crawlers")) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def proxied(
    db_location: Path | str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[App]:
    """The app behind proxies in 10.0.0.0/8 that set X-Forwarded-For."""
    async with running(
        db_location,
        tmp_path_factory.mktemp("crawlers"),
        OPTIVIEW_CLIENT_IP_HEADER="X-Forwarded-For",
        OPTIVIEW_TRUSTED_PROXIES="10.0.0.0/8",
    ) as started:
        yield started


@pytest_asyncio.fixture(loop_scope="module")
async def site(app: App) -> Site:
    return await provision(app)


def fates(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 202, answer.text
    events: list[dict[str, Any]] = answer.json()["debug"]["events"]
    return events


def counted(result: str) -> float:
    metrics.flush_pending()
    labels = {"step": "crawler", "result": result}
    return REGISTRY.get_sample_value("optiview_enrich_steps_total", labels) or 0.0


async def test_a_spoofed_gptbot_is_stored_as_a_bot_with_its_claim_kept(site: Site) -> None:
    before = counted("failed")
    answer = await site.forward(
        site.pageview("/pricing", user_agent=GPTBOT, ip=ELSEWHERE), debug=True
    )
    (fate,) = fates(answer)
    assert site.events(COLUMNS) == [("bot", "GPTBot", "training", "failed")]
    assert fate["ua_class"] == "bot" and fate["crawler_verified"] == "failed"
    assert "openai-gptbot" in fate["crawler_verified_why"]
    assert any("stored as bot, not as GPTBot" in note for note in fate["notes"])
    assert {"step": "crawler", "result": "failed"} in fate["steps"]
    assert counted("failed") == before + 1


async def test_a_genuine_gptbot_from_a_published_range_is_verified(site: Site) -> None:
    answer = await site.forward(site.pageview("/", user_agent=GPTBOT, ip=OPENAI_GPTBOT_IP))
    assert answer.status_code == 202, answer.text
    assert site.events(COLUMNS) == [("ai_crawler", "GPTBot", "training", "ip_range")]


async def test_the_raw_address_is_never_stored(site: Site) -> None:
    await site.forward(site.pageview("/", user_agent=GPTBOT, ip=OPENAI_GPTBOT_IP))
    (row,) = site.events("*")
    assert not any(OPENAI_GPTBOT_IP in str(value) for value in row)


async def test_a_private_address_cannot_verify_nor_refute(site: Site) -> None:
    # Behind a proxy that is not listed as trusted, every peer is the proxy's address.
    await site.from_browser(site.pageview("/"), user_agent=GPTBOT, peer="127.0.0.1")
    answer = await site.forward(site.pageview("/", user_agent=GPTBOT, ip=PRIVATE), debug=True)
    (fate,) = fates(answer)
    assert any("is not a public one" in note for note in fate["notes"])
    assert site.events(COLUMNS) == [("ai_crawler", "GPTBot", "training", "none")] * 2


async def test_server_to_server_without_ip_cannot_be_checked(site: Site) -> None:
    # The peer is the partner's server forwarding the hit, not the crawler.
    await site.forward(site.pageview("/", user_agent=GPTBOT), peer=OPENAI_GPTBOT_IP)
    await site.forward(site.pageview("/", user_agent=GPTBOT), peer=ELSEWHERE)
    assert site.events(COLUMNS) == [("ai_crawler", "GPTBot", "training", "none")] * 2


async def test_a_crawler_whose_operator_publishes_no_list_is_none(site: Site) -> None:
    await site.forward(site.pageview("/", user_agent=CLAUDEBOT, ip=ELSEWHERE))
    assert site.events(COLUMNS) == [("ai_crawler", "ClaudeBot", "training", "none")]


async def test_humans_and_plain_bots_claim_nothing(site: Site) -> None:
    await site.forward(
        site.pageview("/", user_agent=CHROME, ip=ELSEWHERE),
        site.pageview("/", user_agent="curl/8.5.0", ip=ELSEWHERE),
    )
    assert site.events(COLUMNS) == [
        ("human", None, None, None),
        ("bot", None, None, None),
    ]


async def test_googlebot_is_a_known_search_crawler(site: Site) -> None:
    await site.forward(
        site.pageview("/", user_agent=GOOGLEBOT, ip=GOOGLEBOT_IP),
        site.pageview("/", user_agent=GOOGLEBOT, ip=OPENAI_GPTBOT_IP),
    )
    assert site.events(COLUMNS) == [
        ("bot", "Googlebot", "search", "ip_range"),
        ("bot", "Googlebot", "search", "failed"),
    ]


async def test_from_a_browser_the_peer_address_is_checked(site: Site) -> None:
    # A crawler that runs the tag (an agent's browser): its own connection is the evidence.
    await site.from_browser(site.pageview("/"), user_agent=GPTBOT, peer=OPENAI_GPTBOT_IP)
    await site.from_browser(site.pageview("/"), user_agent=GPTBOT, peer=ELSEWHERE)
    await site.from_browser(
        site.pageview("/"), user_agent=GPTBOT, peer=f"::ffff:{OPENAI_GPTBOT_IP}"
    )
    assert site.events(COLUMNS) == [
        ("ai_crawler", "GPTBot", "training", "ip_range"),
        ("bot", "GPTBot", "training", "failed"),
        ("ai_crawler", "GPTBot", "training", "ip_range"),
    ]


async def test_a_browser_cannot_name_its_own_ip(site: Site) -> None:
    answer = await site.from_browser(
        site.pageview("/", ip=OPENAI_GPTBOT_IP),
        user_agent=GPTBOT,
        peer=ELSEWHERE,
        debug=True,
    )
    (fate,) = fates(answer)
    assert any("ip and signature fields were ignored" in note for note in fate["notes"])
    assert site.events(COLUMNS) == [("bot", "GPTBot", "training", "failed")]


async def test_a_proxy_header_is_ignored_unless_configured(site: Site) -> None:
    await site.from_browser(
        site.pageview("/"),
        user_agent=GPTBOT,
        peer=ELSEWHERE,
        headers={"X-Forwarded-For": OPENAI_GPTBOT_IP, "CF-Connecting-IP": OPENAI_GPTBOT_IP},
    )
    assert site.events("crawler_verified") == [("failed",)]


async def test_bad_forwarded_fields_are_refused_naming_the_field(site: Site) -> None:
    answer = await site.forward(site.pageview("/", user_agent=GPTBOT, ip="20.171.206.9:443"))
    assert answer.status_code == 400
    assert "events[0].ip" in answer.json()["detail"]
    answer = await site.forward(site.pageview("/", user_agent=GPTBOT, signature={"method": "GET"}))
    assert answer.status_code == 400
    assert "events[0].signature.authority: is required" in answer.json()["detail"]
    assert site.events(COLUMNS) == []


async def test_a_signature_that_does_not_verify_fails_the_claim(site: Site) -> None:
    # From inside OpenAI's ranges, but with a signature no key verifies: the claim is false.
    signature = {
        "method": "GET",
        "authority": site.domain,
        "path": "/",
        "signature": "sig1=:AAAA:",
        "signature_input": 'sig1=("@authority");created=1;keyid="nope";tag="web-bot-auth"',
    }
    answer = await site.forward(
        site.pageview("/", user_agent=GPTBOT, ip=OPENAI_GPTBOT_IP, signature=signature),
        debug=True,
    )
    (fate,) = fates(answer)
    assert "signature" in fate["crawler_verified_why"]
    assert site.events(COLUMNS) == [("bot", "GPTBot", "training", "failed")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "verified"),
    [
        ("10.0.0.2", OPENAI_GPTBOT_IP, "ip_range"),  # a trusted proxy: its header counts
        ("10.0.0.2", f"{OPENAI_GPTBOT_IP}, 10.0.0.7", "ip_range"),  # through two of ours
        ("10.0.0.2", f"{OPENAI_GPTBOT_IP}, {ELSEWHERE}", "failed"),  # forged left part
        (ELSEWHERE, OPENAI_GPTBOT_IP, "failed"),  # anyone else: the peer counts
        (OPENAI_GPTBOT_IP, ELSEWHERE, "ip_range"),
    ],
)
async def test_a_trusted_proxys_header_names_the_client(
    proxied: App, peer: str, forwarded_for: str, verified: str
) -> None:
    site = await provision(proxied)
    answer = await site.from_browser(
        site.pageview("/"),
        user_agent=GPTBOT,
        peer=peer,
        headers={"X-Forwarded-For": forwarded_for},
    )
    assert answer.status_code == 202, answer.text
    assert site.events("crawler_verified") == [(verified,)]


class SigningAgent:
    """An agent publishing its own Ed25519 key as chatgpt.com's directory (in the test's data
    folder, newer than the vendored snapshot), signing real requests as agents do."""

    origin = "https://chatgpt.com"

    def __init__(self, data_dir: Path) -> None:
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        self.keyid = jwk_thumbprint("Ed25519", x)
        source = next(d for d in KEY_DIRECTORIES if d.name == "chatgpt.com")
        path = key_path(data_dir, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}))

    def sign(self, url: str) -> dict[str, str]:
        request = httpx.Request("GET", url, headers={"Signature-Agent": f'"{self.origin}"'})
        signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519,
            key_resolver=MappingKeyResolver(public_keys={}, private_keys={self.keyid: self.key}),
        )
        now = datetime.now(UTC)
        signer.sign(
            request,
            key_id=self.keyid,
            created=now - timedelta(seconds=5),
            expires=now + timedelta(minutes=1),
            nonce=base64.b64encode(os.urandom(32)).decode(),
            label="sig1",
            tag="web-bot-auth",
            covered_component_ids=("@authority", "@method", "@path", "signature-agent"),
        )
        return {
            "method": request.method,
            "authority": request.url.netloc.decode(),
            "path": request.url.raw_path.decode(),
            "signature": request.headers["Signature"],
            "signature_input": request.headers["Signature-Input"],
            "signature_agent": request.headers["Signature-Agent"],
        }


CHATGPT_USER = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0;"
    " +https://openai.com/bot"
)


async def test_a_web_bot_auth_signature_verifies_and_a_replay_or_tampering_fails(
    db_location: Path | str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "crawlers"
    agent = SigningAgent(data_dir)
    async with running(db_location, data_dir) as app:
        site = await provision(app)
        signed = agent.sign(f"https://{site.domain}/pricing?plan=pro")
        # From an address outside OpenAI's ranges: the signature settles it.
        await site.forward(
            site.pageview("/", user_agent=CHATGPT_USER, ip=ELSEWHERE, signature=signed)
        )
        replayed = await site.forward(
            site.pageview("/", user_agent=CHATGPT_USER, ip=ELSEWHERE, signature=signed),
            debug=True,
        )
        (fate,) = fates(replayed)
        tampered = {**agent.sign(f"https://{site.domain}/pricing"), "path": "/admin"}
        await site.forward(site.pageview("/", user_agent=CHATGPT_USER, signature=tampered))
        # A genuine signature by OpenAI's key on a hit claiming another operator's crawler.
        await site.forward(
            site.pageview(
                "/", user_agent=CLAUDEBOT, signature=agent.sign(f"https://{site.domain}/")
            )
        )
        # ChatGPT's agent sends a browser's User-Agent: its signature alone says who it is.
        await site.forward(
            site.pageview("/", user_agent=CHROME, signature=agent.sign(f"https://{site.domain}/"))
        )
        # A browser's hit with a signature that does not verify claims nothing.
        await site.forward(site.pageview("/", user_agent=CHROME, signature=tampered))
        assert "replay" in fate["crawler_verified_why"].lower()
        assert site.events(COLUMNS) == [
            ("ai_agent", "ChatGPT-User", "user", "web_bot_auth"),
            ("bot", "ChatGPT-User", "user", "failed"),
            ("bot", "ChatGPT-User", "user", "failed"),
            ("bot", "ClaudeBot", "training", "failed"),
            ("ai_agent", "ChatGPT Agent", "user", "web_bot_auth"),
            ("human", None, None, None),
        ]
