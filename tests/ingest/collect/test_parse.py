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
