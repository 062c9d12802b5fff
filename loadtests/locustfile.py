"""A realistic mix against Optiview Edge, the way partners check it: Locust with FastHttpUser.

- Visitors (most users): load tag.js (then revalidate it, 304), send pageviews, SPA
  pageviews, clicks, custom events and conversions from their site's Origin as text/plain,
  with real browser user agents; about one visit in six arrives from an AI assistant.
- Forwarders: servers sending batches of bot and AI-crawler hits with the key's secret.
- A few deliberately bad requests (bad JSON, unknown key, foreign origin): counted as
  successes only when refused with the expected status.

Every event carries a unique marker (`props.lt`); each one acknowledged with 202 is written
to OPTIVIEW_LOADTEST_ACKS when the test stops, so the runner can check that all of them are
in the database. Sites (keys, projects, properties, domains, secrets) come from the JSON file
OPTIVIEW_LOADTEST_SITES, written by `python -m loadtests.run`.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from typing import Any

from locust import FastHttpUser, constant_throughput, events, task

SITES: list[dict[str, Any]] = json.loads(open(os.environ["OPTIVIEW_LOADTEST_SITES"]).read())  # noqa: SIM115
RATE_PER_USER = float(os.environ.get("OPTIVIEW_LOADTEST_RATE", "2"))  # requests/s per user
RUN = uuid.uuid4().hex[:8]
_markers = itertools.count()
ACKNOWLEDGED: list[str] = []

HUMANS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
]
CRAWLERS = [
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; OAI-SearchBot/1.0; +https://openai.com/searchbot",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ChatGPT-User/1.0; +https://openai.com/bot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
]
AI_REFERRERS = [
    "https://chatgpt.com/",
    "https://www.perplexity.ai/search?q=best+running+shoes",
    "https://claude.ai/chat/3f2c",
    "https://gemini.google.com/app",
    "https://copilot.microsoft.com/",
]
OTHER_REFERRERS = ["", "", "https://www.google.com/", "https://www.bing.com/", "https://t.co/x1"]
PAGES = ["/", "/pricing", "/blog/launch", "/blog/ai-visibility", "/docs/install", "/products/tag"]


def marker() -> str:
    return f"{RUN}:{next(_markers)}"


class Visitor(FastHttpUser):
    """A visitor browsing a partner site with the tag installed."""

    weight = 20
    wait_time = constant_throughput(RATE_PER_USER)

    def on_start(self) -> None:
        self.site = random.choice(SITES)
        self.origin = f"https://{self.site['domain']}"
        self.user_agent = random.choice(HUMANS)
        self.session = uuid.uuid4().hex
        self.previous: str | None = None
        self.etag: str | None = None
        ai = random.random() < 0.17
        landing_path = random.choice(PAGES)
        if ai and random.random() < 0.3:
            landing_path += "?utm_source=chatgpt.com"
        self.landing_referrer = random.choice(AI_REFERRERS if ai else OTHER_REFERRERS)
        self.load_tag()
        self.pageview(landing_path, self.landing_referrer, name="pageview (landing)")

    def load_tag(self) -> None:
        headers = {"Accept-Encoding": "br, gzip", "User-Agent": self.user_agent}
        if self.etag:
            headers["If-None-Match"] = self.etag
        with self.client.get(
            "/v1/tag.js", headers=headers, name="tag.js", catch_response=True
        ) as r:
            if r.status_code in (200, 304):
                self.etag = r.headers.get("etag") or self.etag
                r.success()
            else:
                r.failure(f"tag.js answered {r.status_code}")

    def send(self, name: str, *batch: dict[str, Any]) -> None:
        ids = []
        for event in batch:
            ids.append(marker())
            event.setdefault("props", {})["lt"] = ids[-1]
            event.setdefault("session_id", self.session)
        body = {
            "key_id": self.site["key_id"],
            "project_id": self.site["project_id"],
            "property_id": self.site["property_id"],
            "events": list(batch),
        }
        headers = {
            "Content-Type": "text/plain;charset=UTF-8",
            "Origin": self.origin,
            "User-Agent": self.user_agent,
        }
        with self.client.post(
            "/v1/events", data=json.dumps(body), headers=headers, name=name, catch_response=True
        ) as r:
            if r.status_code == 202:
                ACKNOWLEDGED.extend(ids)
                r.success()
            else:
                r.failure(f"{r.status_code}: {r.text[:120]}")

    def pageview(self, path: str, referrer: str | None, name: str = "pageview") -> None:
        url = self.origin + path
        self.send(name, {"type": "pageview", "url": url, "referrer": referrer, "title": path})
        self.previous = url

    @task(8)
    def next_page(self) -> None:
        self.pageview(random.choice(PAGES), self.previous or self.landing_referrer)

    @task(5)
    def spa_navigation(self) -> None:
        self.pageview(f"/app/view/{random.randint(1, 50)}", self.previous, name="pageview (spa)")

    @task(3)
    def click(self) -> None:
        kind, href = random.choice(
            [
                ("link", f"{self.origin}/pricing"),
                ("outbound", "https://partner-blog.example.net/post"),
                ("download", f"{self.origin}/files/whitepaper.pdf"),
            ]
        )
        self.send(
            "click",
            {
                "type": "click",
                "name": kind,
                "url": self.previous or self.origin + "/",
                "props": {"href": href},
            },
        )

    @task(1)
    def custom_event(self) -> None:
        self.send(
            "custom",
            {
                "type": "custom",
                "name": "video_play",
                "url": self.previous,
                "props": {"video": "intro"},
            },
        )

    @task(1)
    def conversion(self) -> None:
        self.send(
            "conversion",
            {
                "type": "conversion",
                "name": "signup",
                "url": self.previous,
                "props": {"plan": random.choice(["starter", "pro"])},
            },
        )

    @task(1)
    def revalidate_tag(self) -> None:
        self.load_tag()


class Forwarder(FastHttpUser):
    """A partner's server forwarding bot and AI-crawler hits from its logs."""

    weight = 2
    wait_time = constant_throughput(RATE_PER_USER / 2)

    def on_start(self) -> None:
        self.site = random.choice(SITES)

    @task
    def forward(self) -> None:
        origin = f"https://{self.site['domain']}"
        batch = []
        for _ in range(random.randint(1, 20)):
            batch.append(
                {
                    "type": "pageview",
                    "url": origin + random.choice(PAGES),
                    "user_agent": random.choice(CRAWLERS),
                    "props": {"lt": marker()},
                }
            )
        body = {
            "key_id": self.site["key_id"],
            "project_id": self.site["project_id"],
            "property_id": self.site["property_id"],
            "events": batch,
        }
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.site['secret']}",
        }
        with self.client.post(
            "/v1/events", data=json.dumps(body), headers=headers, name="forwarded batch",
            catch_response=True,
        ) as r:  # fmt: skip
            if r.status_code == 202:
                ACKNOWLEDGED.extend(e["props"]["lt"] for e in batch)
                r.success()
            else:
                r.failure(f"{r.status_code}: {r.text[:120]}")


class Misbehaving(FastHttpUser):
    """Deliberately bad requests: each must be refused with its expected status."""

    weight = 1
    wait_time = constant_throughput(RATE_PER_USER / 4)

    def on_start(self) -> None:
        self.site = random.choice(SITES)

    def expect(self, name: str, status: int, body: str, origin: str) -> None:
        headers = {"Content-Type": "text/plain", "Origin": origin}
        with self.client.post(
            "/v1/events", data=body, headers=headers, name=name, catch_response=True
        ) as r:
            if r.status_code == status:
                r.success()
            else:
                r.failure(f"expected {status}, got {r.status_code}")

    @task
    def bad_json(self) -> None:
        self.expect("bad: invalid JSON (400)", 400, "{not json", f"https://{self.site['domain']}")

    @task
    def unknown_key(self) -> None:
        body = json.dumps({
            "key_id": "key_doesnotexist000", "project_id": self.site["project_id"],
            "property_id": self.site["property_id"], "events": [{"type": "click"}],
        })  # fmt: skip
        self.expect("bad: unknown key (401)", 401, body, f"https://{self.site['domain']}")

    @task
    def foreign_origin(self) -> None:
        body = json.dumps({
            "key_id": self.site["key_id"], "project_id": self.site["project_id"],
            "property_id": self.site["property_id"],
            "events": [{"type": "pageview", "url": "https://copycat.example.org/"}],
        })  # fmt: skip
        self.expect("bad: foreign origin (403)", 403, body, "https://copycat.example.org")


@events.test_stop.add_listener
def write_acknowledged(**_: Any) -> None:
    path = os.environ.get("OPTIVIEW_LOADTEST_ACKS")
    if path:
        with open(path, "w") as out:
            out.write("\n".join(ACKNOWLEDGED))
