"""Property tests of the message models and their decoding (DESIGN section 5).

Whatever arrives on a topic becomes a model or a pydantic ValidationError, never another
exception; a whole batch of arbitrary bytes is split into decoded messages and dead letters
without raising; and the contract messages keep their exact field names on the wire.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from aiokafka import ConsumerRecord
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.kafka import MAX_DEAD_LETTER_BYTES, BatchRunner, DeadLetter, decode_records
from shared.messages import (
    ControlEvent,
    ImportRequested,
    ImportRunEvent,
    NotificationRecorded,
    RecordsRead,
    ReminderRunRequested,
    UpdatesAccepted,
    ValidationErrorEvent,
    encode,
)

MODELS: list[type[BaseModel]] = [
    ImportRequested,
    ValidationErrorEvent,
    RecordsRead,
    ImportRunEvent,
    UpdatesAccepted,
    ControlEvent,
    ReminderRunRequested,
    NotificationRecorded,
]

# The contract's field names, exactly (DESIGN section 5).
IMPORT_REQUESTED_FIELDS = {
    "message_id",
    "request_id",
    "administration_id",
    "trigger",
    "requested_by",
    "requested_at",
}
VALIDATION_ERROR_FIELDS = {
    "message_id",
    "event",
    "error_id",
    "administration_id",
    "run_id",
    "entity",
    "key",
    "code",
    "field",
    "value",
    "severity",
    "message",
    "occurred_at",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
# Objects that look like messages: the real field names with arbitrary values, plus noise.
FIELD_NAMES = sorted(
    {name for model in MODELS for name in model.model_fields} | {"records", "data", "unknown"}
)
message_like = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), json_values)

text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
admin_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z")
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def record(value: bytes | None, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t.topic", 0, offset, 0, 0, b"key", value, None, 3, len(value or b""), ())


# A valid message of each model: the properties below mutate them, so that the values reach
# the deeper validation (which runs only once every field has its type).
VALID: dict[type[BaseModel], dict[str, Any]] = {
    ImportRequested: {"administration_id": "acme", "trigger": "manual", "requested_by": "cli"},
    ValidationErrorEvent: {
        "event": "raised",
        "error_id": str(UUID(int=1)),
        "administration_id": "acme",
        "run_id": str(UUID(int=2)),
        "entity": "customer",
        "key": "C1",
        "code": "invalid_email",
        "field": "email",
        "value": "jan@",
        "severity": "error",
        "message": "e-mail address 'jan@' is not valid",
    },
    RecordsRead: {
        "administration_id": "acme",
        "run_id": str(UUID(int=2)),
        "seq": 0,
        "records": [{"entity": "customer", "line": 2, "data": {"name": "Jan"}}],
    },
    ImportRunEvent: {
        "event": "finished",
        "run_id": str(UUID(int=2)),
        "administration_id": "acme",
        "status": "running",
        "chunks": 3,
        "records": {"invoice": 1},
    },
    UpdatesAccepted: {
        "administration_id": "acme",
        "run_id": str(UUID(int=2)),
        "changes": [{"entity": "invoice", "key": "F1", "change": "added"}],
    },
    ControlEvent: {"administration_id": "acme", "command": "pause_set", "detail": {"k": "v"}},
    ReminderRunRequested: {"administration_id": "acme", "as_of": "2026-12-03"},
    NotificationRecorded: {
        "administration_id": "acme",
        "invoice": "F1",
        "kind": "reminder",
        "level": 1,
        "outcome": "sent",
    },
}


def mutations(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """The valid example with some fields replaced by arbitrary JSON, some removed, and
    texts that may hold anything (a NUL character, quotes, markup)."""
    base = VALID[model]
    names = sorted(set(base) | set(model.model_fields))
    anything = json_values | st.text(max_size=6).map(lambda t: f"x{t}\x00{t}")
    return st.tuples(
        st.dictionaries(st.sampled_from(names), anything, max_size=3),
        st.sets(st.sampled_from(sorted(base)), max_size=2),
    ).map(lambda change: {k: v for k, v in {**base, **change[0]}.items() if k not in change[1]})


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_json_becomes_a_model_or_a_validation_error(
    model: type[BaseModel], data: st.DataObject
) -> None:
    value = data.draw(json_values | message_like | mutations(model))
    raw = json.dumps(value).encode()
    try:
        model.model_validate_json(raw)
    except ValidationError:
        pass
    good, bad = decode_records([record(raw)], model)  # and the consumers' decoding agrees
    assert len(good) + len(bad) == 1


def test_the_valid_examples_are_valid() -> None:
    for model, value in VALID.items():
        model.model_validate(value)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.binary(max_size=200) | st.none(), max_size=8))
def test_a_batch_of_arbitrary_bytes_splits_into_messages_and_dead_letters(
    values: list[bytes | None],
) -> None:
    records = [record(value, offset) for offset, value in enumerate(values)]
    good, bad = decode_records(records, ImportRequested)
    assert sorted(d.record.offset for d in [*good, *bad]) == list(range(len(values)))
    assert all(isinstance(letter, DeadLetter) and letter.error for letter in bad)


@settings(max_examples=100, deadline=None)
@given(
    admin=admin_ids,
    trigger=st.sampled_from(["manual", "schedule"]),
    requested_by=text,
    at=moments,
    extra=st.dictionaries(st.text(min_size=1, max_size=8).map(lambda k: f"x_{k}"), json_values),
)
def test_import_requested_round_trips_under_the_contract_field_names(
    admin: str, trigger: str, requested_by: str, at: datetime, extra: dict[str, Any]
) -> None:
    request = ImportRequested(
        administration_id=admin, trigger=trigger, requested_by=requested_by, requested_at=at
    )
    wire = json.loads(encode(request))
    assert set(wire) == IMPORT_REQUESTED_FIELDS
    assert wire["requested_at"].endswith("Z")  # ISO-8601 UTC
    UUID(wire["message_id"]), UUID(wire["request_id"])
    # Another system's message with fields we do not know is still understood.
    assert ImportRequested.model_validate_json(json.dumps({**extra, **wire})) == request


@settings(max_examples=100, deadline=None)
@given(
    admin=admin_ids,
    entity=st.sampled_from(["customer", "invoice", "payment_condition"]),
    key=text,
    code=st.sampled_from(["invalid_email", "required", "duplicate_key", "no_dunning_plan"]),
    field_=text,
    value=text,
    severity=st.sampled_from(["error", "warning"]),
    message=text,
    resolution=st.sampled_from([None, "fixed", "left_import", "ignored"]),
    at=moments,
)
def test_validation_error_events_round_trip_under_the_contract_field_names(
    admin: str,
    entity: str,
    key: str,
    code: str,
    field_: str,
    value: str,
    severity: str,
    message: str,
    resolution: str | None,
    at: datetime,
) -> None:
    event = ValidationErrorEvent.model_validate(
        {
            "event": "raised" if resolution is None else "resolved",
            "error_id": "6f1c1f0e-8d8b-4a59-9d4e-1c0de1e55e00",
            "administration_id": admin,
            "run_id": "0b6f5a55-7d35-4ad0-9a57-3a1f1d7e2b10",
            "entity": entity,
            "key": key,
            "code": code,
            "field": field_,
            "value": value,
            "severity": severity,
            "message": message,
            "occurred_at": at.isoformat(),
            "resolution": resolution,
        }
    )
    wire = json.loads(encode(event))
    expected = VALIDATION_ERROR_FIELDS | ({"resolution"} if resolution else set())
    assert set(wire) == expected
    assert (wire["key"], wire["value"], wire["message"]) == (key, value, message)  # verbatim
    assert ValidationErrorEvent.model_validate_json(json.dumps(wire)) == event


@given(text=st.text(min_size=1, max_size=10).map(lambda t: t[:5] + "\x00" + t[5:]))
def test_text_with_a_nul_character_is_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(ValidationError, match="NUL character"):
        ImportRequested(administration_id="acme", trigger="manual", requested_by=text)
    raw = {"administration_id": "acme", "run_id": str(UUID(int=1)), "seq": 0}
    with pytest.raises(ValidationError, match="NUL character"):
        RecordsRead.model_validate(
            {**raw, "records": [{"entity": "invoice", "line": 2, "data": {"name": text}}]}
        )


def test_the_contract_examples_of_the_design_parse() -> None:
    request = ImportRequested.model_validate_json(
        '{"message_id": "9b2e0c56-0d5f-4c8e-a4a4-0f3a8f4f0a11",'
        ' "request_id": "2c0c3f7e-5a8a-4a55-b1f0-7d0b9c8c1e22", "administration_id": "acme",'
        ' "trigger": "manual", "requested_by": "cli", "requested_at": "2026-12-03T09:00:00Z"}'
    )
    assert request.requested_at == datetime(2026, 12, 3, 9, tzinfo=UTC)
    event = ValidationErrorEvent.model_validate_json(
        '{"message_id": "9b2e0c56-0d5f-4c8e-a4a4-0f3a8f4f0a11", "event": "raised",'
        ' "error_id": "2c0c3f7e-5a8a-4a55-b1f0-7d0b9c8c1e22", "administration_id": "acme",'
        ' "run_id": "0b6f5a55-7d35-4ad0-9a57-3a1f1d7e2b10", "entity": "customer",'
        ' "key": "C1001", "code": "invalid_email", "field": "email", "value": "jan@",'
        ' "severity": "error", "message": "e-mail address \'jan@\' is not valid",'
        ' "occurred_at": "2026-12-03T09:00:01Z"}'
    )
    assert event.value == "jan@"


class _RecordingBroker:
    def __init__(self) -> None:
        self.published: list[tuple[bytes, str, dict[str, str]]] = []

    async def publish(self, value: bytes, topic: str, **options: Any) -> Any:
        self.published.append((value, topic, options["headers"]))
        import asyncio

        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_a_dead_letter_keeps_the_start_of_a_huge_value_and_says_how_large_it_was() -> None:
    broker = _RecordingBroker()
    runner = BatchRunner(
        broker,  # type: ignore[arg-type]
        ImportRequested,
        apply=None,  # type: ignore[arg-type]
        dead_letters_topic="t.dead-letters",
        name="importer:t.import-requests",
    )
    huge = b"{" + b"x" * (3 * MAX_DEAD_LETTER_BYTES)
    small = b"not json"
    await runner.send_dead_letters(
        [DeadLetter(record(huge, 7), "x" * 5000), DeadLetter(record(small, 8), "bad")]
    )
    (big_value, topic, big_headers), (small_value, _, small_headers) = broker.published
    assert topic == "t.dead-letters"
    assert big_value == huge[:MAX_DEAD_LETTER_BYTES]
    assert big_headers["truncated_from_bytes"] == str(len(huge))
    assert len(big_headers["error"]) == 1000
    assert big_headers["source_offset"] == "7" and big_headers["source_topic"] == "t.topic"
    assert small_value == small and "truncated_from_bytes" not in small_headers
