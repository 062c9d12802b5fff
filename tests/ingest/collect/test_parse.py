import orjson
import pytest

from ingest.collect.parse import (
    MAX_EVENTS,
    MAX_PROPS,
    EventBatch,
    parse_batch,
)
from ingest.errors import ApiError

NOW = 1_800_000_000_000


def body(**overrides: object) -> bytes:
    event = {"type": "pageview", "url": "https://shop.example.com/a?b=1", "ts": NOW - 5}
    payload: dict[str, object] = {
        "key_id": "key_abc",
        "project_id": "prj_abc",
        "property_id": 7,
        "events": [event],
    }
    payload.update(overrides)
    return orjson.dumps(payload)


def event_body(**fields: object) -> bytes:
    return body(events=[{"type": "pageview", "url": "https://x.example.com/", **fields}])


def refused(raw: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_batch(raw, NOW)
    return caught.value


def test_a_full_event_parses_into_frozen_dataclasses():
    raw = body(
        property_id="7",
        events=[
            {
                "type": "conversion",
                "name": "signup",
                "url": "https://shop.example.com/thanks",
                "referrer": "https://chatgpt.com/",
                "title": "Thanks",
                "ts": NOW - 1000,
                "session_id": "s_123",
                "props": {"plan": "pro", "value": 49.5, "trial": True, "coupon": None},
                "extra_field": "ignored",
            }
        ],
    )
    batch = parse_batch(raw, NOW)
    assert isinstance(batch, EventBatch)
    assert (batch.key_id, batch.project_id, batch.property_id) == ("key_abc", "prj_abc", 7)
    (event,) = batch.events
    assert event.type == "conversion"
    assert event.name == "signup"
    assert event.ts == NOW - 1000
    assert orjson.loads(event.props_json or "") == {
        "plan": "pro",
        "value": 49.5,
        "trial": True,
        "coupon": None,
    }
    with pytest.raises(AttributeError):
        event.type = "click"  # type: ignore[misc]


def test_missing_ts_is_the_receive_time_and_empty_strings_are_absent():
    (event,) = parse_batch(event_body(ts=None, referrer="", title=""), NOW).events
    assert event.ts == NOW
    assert event.referrer is None and event.title is None


@pytest.mark.parametrize(
    ("raw", "code", "detail"),
    [
        (b"", "invalid_json", "body is empty"),
        (b"{", "invalid_json", "not valid JSON"),
        (b"[]", "invalid_json", "must be a JSON object"),
        (body(key_id=None), "invalid_field", "key_id: is required"),
        (body(key_id=5), "invalid_field", "key_id: must be a string"),
        (body(key_id="k" * 65), "invalid_field", "key_id: is 65 characters"),
        (body(project_id=None), "invalid_field", "project_id: is required"),
        (body(property_id=None), "invalid_field", "property_id: must be a positive integer"),
        (body(property_id=0), "invalid_field", "property_id: must be a positive integer"),
        (body(property_id=True), "invalid_field", "property_id: must be a positive integer"),
        (body(property_id="12a"), "invalid_field", "property_id: must be a positive integer"),
        (body(events=[]), "invalid_field", "events: must be a list of 1 to 50"),
        (body(events={"type": "pageview"}), "invalid_field", "events: must be a list"),
        (
            body(events=[{"type": "click"}] * (MAX_EVENTS + 1)),
            "invalid_field",
            "events: has 51 events; at most 50",
        ),
        (body(events=["x"]), "invalid_field", "events[0]: must be an object"),
        (event_body(type="purchase"), "invalid_field", "events[0].type: must be one of"),
        (event_body(url=None), "invalid_field", "events[0].url: is required"),
        (
            event_body(url="/relative"),
            "invalid_field",
            "events[0].url: must be an absolute http(s)",
        ),
        (event_body(url="javascript:alert(1)"), "invalid_field", "must be an absolute http(s)"),
        (
            event_body(url="https://x.com/" + "a" * 2048),
            "invalid_field",
            "events[0].url: is 2062 characters; at most 2048",
        ),
        (event_body(referrer="r" * 2049), "invalid_field", "events[0].referrer: is 2049"),
        (event_body(title="t" * 513), "invalid_field", "events[0].title: is 513 characters"),
        (event_body(ts="yesterday"), "invalid_field", "events[0].ts: must be milliseconds"),
        (event_body(ts=1732100000), "invalid_field", "is not a plausible time"),
        (event_body(ts=NOW + 2 * 86_400_000), "invalid_field", "is not a plausible time"),
        (event_body(session_id=7), "invalid_field", "events[0].session_id: must be a string"),
        (event_body(props=[1]), "invalid_field", "events[0].props: must be an object"),
        (
            event_body(props={f"k{i}": i for i in range(MAX_PROPS + 1)}),
            "invalid_field",
            "events[0].props: has 31 keys; at most 30",
        ),
        (event_body(props={"a": {"nested": 1}}), "invalid_field", "events[0].props.a: must be"),
        (event_body(props={"a": "v" * 513}), "invalid_field", "events[0].props.a: is longer"),
    ],
)
def test_bad_bodies_name_what_failed(raw: bytes, code: str, detail: str):
    error = refused(raw)
    assert error.status == 400
    assert error.code.value == code
    assert detail in error.detail


@pytest.mark.parametrize("kind", ["custom", "conversion"])
def test_named_types_need_a_name(kind: str):
    error = refused(body(events=[{"type": kind}]))
    assert error.detail == "events[0].name: is required"


def test_click_and_custom_need_no_url():
    batch = parse_batch(
        body(events=[{"type": "click"}, {"type": "custom", "name": "video_play"}]), NOW
    )
    assert [e.url for e in batch.events] == [None, None]


def test_the_error_names_the_failing_event_index():
    good = {"type": "pageview", "url": "https://x.example.com/"}
    error = refused(body(events=[good, good, {"type": "pageview", "url": "ftp://x"}]))
    assert error.detail.startswith("events[2].url")


def test_fifty_events_are_accepted():
    batch = parse_batch(body(events=[{"type": "click"}] * MAX_EVENTS), NOW)
    assert len(batch.events) == MAX_EVENTS


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        pytest.param(event_body(type={"a": 1}), "events[0].type: must be one of", id="type-object"),
        pytest.param(
            event_body(type=["pageview"]), "events[0].type: must be one of", id="type-list"
        ),
        pytest.param(event_body(type=1), "events[0].type: must be one of", id="type-number"),
        pytest.param(body(property_id="²"), "property_id: must be a positive", id="superscript"),
        pytest.param(body(property_id="\u0661"), "property_id: must be a positive", id="arabic-1"),
        pytest.param(body(property_id="0"), "property_id: must be a positive", id="zero-text"),
        pytest.param(body(property_id=-3), "property_id: must be a positive", id="negative"),
        pytest.param(body(property_id="-3"), "property_id: must be a positive", id="neg-text"),
        pytest.param(body(property_id=2**63), "property_id: must be a positive", id="2**63"),
        pytest.param(body(property_id=str(2**63)), "property_id: must be a", id="2**63-text"),
        pytest.param(body(property_id=2**64 - 1), "property_id: must be a positive", id="u64"),
        pytest.param(body(property_id=7.0), "property_id: must be a positive", id="float"),
        pytest.param(body(property_id=" 7"), "property_id: must be a positive", id="space"),
        pytest.param(body(property_id=[7]), "property_id: must be a positive", id="list"),
        pytest.param(
            event_body(ts=1e300),
            "events[0].ts: 1e+300 is not a plausible time",
            id="ts-1e300",
        ),
        pytest.param(event_body(ts=True), "events[0].ts: must be milliseconds", id="ts-bool"),
        pytest.param(
            event_body(url="https://x.com/\x00"),
            "events[0].url: contains control character U+0000",
            id="url-nul",
        ),
        pytest.param(
            event_body(title="a\nb"),
            "events[0].title: contains control character U+000A",
            id="title-newline",
        ),
        pytest.param(
            event_body(referrer="\x7f"),
            "events[0].referrer: contains control character U+007F",
            id="referrer-del",
        ),
        pytest.param(
            event_body(session_id="s\x1b[2J"),
            "events[0].session_id: contains control",
            id="session-escape",
        ),
        pytest.param(
            event_body(user_agent="UA\x85"),
            "events[0].user_agent: contains control character U+0085",
            id="ua-c1",
        ),
        pytest.param(
            body(key_id="key_\x00"), "key_id: contains control character U+0000", id="key-nul"
        ),
        pytest.param(
            body(project_id="prj\t"),
            "project_id: contains control character U+0009",
            id="project-tab",
        ),
        pytest.param(
            event_body(props={"a\x00": 1}),
            "events[0].props key 'a\\x00': contains control",
            id="props-key",
        ),
        pytest.param(
            event_body(props={"a": "\x00"}),
            "events[0].props.a: contains control character U+0000",
            id="props-value",
        ),
        pytest.param(
            body(events=[{"type": "custom", "name": "n\x00"}]),
            "events[0].name: contains control",
            id="name-nul",
        ),
    ],
)
def test_malformed_fields_are_refused_by_name(raw: bytes, detail: str):
    error = refused(raw)
    assert error.status == 400
    assert error.code.value == "invalid_field"
    assert detail in error.detail


@pytest.mark.parametrize("text", ["7", "0007", "9223372036854775807"])
def test_property_id_as_ascii_digits_is_accepted(text: str):
    assert parse_batch(body(property_id=text), NOW).property_id == int(text)


def test_printable_unicode_is_kept():
    raw = event_body(title="Café ☕ 東京", props={"emoji": "🙂", "ß": "ü"})
    (event,) = parse_batch(raw, NOW).events
    assert event.title == "Café ☕ 東京"
    assert orjson.loads(event.props_json or "") == {"emoji": "🙂", "ß": "ü"}
