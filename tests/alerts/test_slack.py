"""SlackSender against a real local HTTP server: retries, backoff, Retry-After, and that a send
never raises."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from alerts import slack as slack_module
from alerts.slack import Delivery, SlackSender
from tests.alerts.conftest import (
    DOWN,
    ERROR_500,
    NOT_FOUND,
    OK,
    RATE_LIMITED,
    SlackStandIn,
)

PAYLOAD: dict[str, Any] = {
    "text": "[FIRING] Collector error rate: error rate 1.20% (6 of 500 requests)",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "FIRING: Collector error rate"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": ":red_circle: ünïcödé ✓"}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": "*Threshold*\n> 1.00% with at least 500"}],
        },
    ],
}


@pytest.fixture
def sender(slack: SlackStandIn) -> Iterator[SlackSender]:
    """Two retries as in production, with a short backoff to keep the tests quick."""
    s = SlackSender(slack.url, retries=2, backoff_s=0.05)
    try:
        yield s
    finally:
        s.close()


def test_a_200_is_delivered_at_the_first_attempt_with_the_payload_unchanged(
    slack: SlackStandIn, sender: SlackSender
):
    assert sender.send(PAYLOAD) == Delivery(True, 1, None)

    (got,) = slack.received
    assert got.path == "/services/T000/B000/XXXX"
    assert got.body == PAYLOAD
    assert got.body["text"] == PAYLOAD["text"]
    assert got.body["blocks"] == PAYLOAD["blocks"]


@pytest.mark.parametrize(
    ("script", "mode", "ok", "attempts", "error", "answers"),
    [
        pytest.param([], OK, True, 1, None, [200], id="200"),
        pytest.param([ERROR_500], OK, True, 2, None, [500, 200], id="500-then-200"),
        pytest.param([ERROR_500, ERROR_500], OK, True, 3, None, [500, 500, 200], id="500x2-200"),
        pytest.param(
            [], ERROR_500, False, 3, "HTTP 500: internal_error", [500] * 3, id="always-500"
        ),
        pytest.param([], NOT_FOUND, False, 1, "HTTP 404: no_service", [404], id="404-no-retry"),
        pytest.param([RATE_LIMITED], OK, True, 2, None, [429, 200], id="429-then-200"),
    ],
)
def test_answers_and_retries(
    slack: SlackStandIn,
    sender: SlackSender,
    script: list[str],
    mode: str,
    ok: bool,
    attempts: int,
    error: str | None,
    answers: list[int],
):
    slack.mode = mode
    slack.script(*script)

    result = sender.send(PAYLOAD)

    assert result == Delivery(ok, attempts, error)
    assert [r.answered for r in slack.received] == answers
    assert all(r.body == PAYLOAD for r in slack.received)  # every retry sends the same


def test_always_500_gives_up_after_retries_plus_one_attempts(slack: SlackStandIn):
    slack.mode = ERROR_500
    for retries in (0, 1, 3):
        before = len(slack.received)
        s = SlackSender(slack.url, retries=retries, backoff_s=0.01)
        try:
            result = s.send(PAYLOAD)
        finally:
            s.close()
        assert not result.ok
        assert result.attempts == retries + 1
        assert result.error is not None and result.error.startswith("HTTP 500")
        assert len(slack.received) - before == retries + 1


def test_the_backoff_doubles_between_attempts(slack: SlackStandIn):
    slack.mode = ERROR_500
    s = SlackSender(slack.url, retries=2, backoff_s=0.2)
    try:
        result = s.send(PAYLOAD)
    finally:
        s.close()

    assert result.attempts == 3
    times = [r.at for r in slack.received]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2
    assert 0.2 <= gaps[0] < 0.4, gaps  # backoff_s
    assert 0.4 <= gaps[1] < 0.8, gaps  # 2 * backoff_s


def test_a_429_waits_for_retry_after_rather_than_the_backoff(slack: SlackStandIn):
    slack.script(RATE_LIMITED)  # Retry-After: 1, then 200
    s = SlackSender(slack.url, retries=2, backoff_s=0.01)
    try:
        result = s.send(PAYLOAD)
    finally:
        s.close()

    assert result == Delivery(True, 2, None)
    first, second = slack.received
    assert (first.answered, second.answered) == (429, 200)
    assert 0.95 <= second.at - first.at < 2.0


def test_always_429_fails_with_the_last_answer(slack: SlackStandIn):
    slack.mode = RATE_LIMITED
    s = SlackSender(slack.url, retries=1, backoff_s=0.01)
    try:
        result = s.send(PAYLOAD)
    finally:
        s.close()

    assert result == Delivery(False, 2, "HTTP 429: rate_limited")
    assert [r.answered for r in slack.received] == [429, 429]


def test_a_server_that_is_down_gives_a_connection_error_and_send_does_not_raise(
    slack: SlackStandIn, sender: SlackSender
):
    slack.mode = DOWN

    result = sender.send(PAYLOAD)  # must not raise

    assert not result.ok
    assert result.attempts == 3
    assert result.error is not None and result.error.startswith("ConnectError: ")
    assert slack.received == []


def test_a_kept_alive_connection_is_not_used_once_the_server_went_down(
    slack: SlackStandIn, sender: SlackSender
):
    assert sender.send(PAYLOAD).ok
    slack.mode = DOWN
    result = sender.send(PAYLOAD)
    assert not result.ok and result.error is not None
    slack.mode = OK  # back up on the same URL: the same sender delivers again
    assert sender.send(PAYLOAD) == Delivery(True, 1, None)
    assert [r.answered for r in slack.received] == [200, 200]


# -- Retry-After values, over an in-process transport ---------------------------------------


def _rate_limited_once(retry_after: str) -> httpx.MockTransport:
    calls = {"n": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, text="rate_limited", headers={"Retry-After": retry_after})
        return httpx.Response(200, text="ok")

    return httpx.MockTransport(handle)


class _Clock:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        if seconds < 0:  # as time.sleep does
            raise ValueError("sleep length must be non-negative")
        self.waits.append(seconds)


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        ("60", 5.0),  # capped at 5 s
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.25),  # an HTTP date: the backoff instead
    ],
)
def test_retry_after_is_followed_and_capped(
    monkeypatch: pytest.MonkeyPatch, retry_after: str, wait: float
):
    clock = _Clock()
    monkeypatch.setattr(slack_module, "time", clock)
    s = SlackSender(
        "http://127.0.0.1:9/hook", backoff_s=0.25, transport=_rate_limited_once(retry_after)
    )
    try:
        result = s.send(PAYLOAD)
    finally:
        s.close()
    assert result == Delivery(True, 2, None)
    assert clock.waits == [wait]


@pytest.mark.parametrize("retry_after", ["-1", "nan"])
def test_a_malformed_retry_after_does_not_make_send_raise(retry_after: str):
    """BUG: alerts/slack.py _retry_after clamps Retry-After only from above, so a negative (or
    NaN) value reaches time.sleep, which raises ValueError out of send()."""
    s = SlackSender(
        "http://127.0.0.1:9/hook", backoff_s=0.01, transport=_rate_limited_once(retry_after)
    )
    try:
        started = time.monotonic()
        result = s.send(PAYLOAD)
    finally:
        s.close()
    assert result == Delivery(True, 2, None)
    assert time.monotonic() - started < 5.5


def test_a_malformed_webhook_url_gives_a_failed_delivery_not_an_exception():
    """BUG: alerts/slack.py send catches httpx.HTTPError only; httpx.InvalidURL (raised for a
    mistyped SLACK_WEBHOOK_URL such as an unclosed IPv6 bracket) is not one and escapes."""
    s = SlackSender("http://[::1/services/T000", retries=1, backoff_s=0.01)
    try:
        result = s.send(PAYLOAD)
    finally:
        s.close()
    assert not result.ok
    assert result.error
