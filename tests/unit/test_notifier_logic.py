"""The notifier's rules as plain functions: next level, days, why not, Message-ID, costs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from services.notifier.logic import (
    Candidate,
    Day,
    Ignored,
    Pause,
    Plan,
    collection_costs,
    email_message_id,
    language_of,
    level_due_on,
    next_reminder,
    parse_iso_date,
    sending_day,
    suppression_for,
)

DEFAULT = Plan()  # +7, every 7 days, 2 reminders, final notice
DUE = date(2027, 3, 1)
WORKING = Day(date(2027, 3, 3), True)


# --- next level -------------------------------------------------------------------------------


def test_the_first_reminder_is_due_first_after_days_after_the_due_date() -> None:
    assert (
        next_reminder(DEFAULT, DUE, sent_level=0, last_sent_on=None, as_of=date(2027, 3, 7)) is None
    )
    assert next_reminder(DEFAULT, DUE, sent_level=0, last_sent_on=None, as_of=date(2027, 3, 8)) == (
        "reminder",
        1,
    )


def test_an_invoice_long_overdue_at_its_first_run_starts_at_level_one() -> None:
    assert next_reminder(DEFAULT, DUE, sent_level=0, last_sent_on=None, as_of=date(2028, 1, 1)) == (
        "reminder",
        1,
    )


def test_the_next_level_waits_for_the_interval_since_the_previous_one_sent() -> None:
    # Level 1 sent late (on 1 June): level 2 is due by the plan since 15 March, but must wait
    # until 8 June.
    sent = date(2027, 6, 1)
    assert (
        next_reminder(DEFAULT, DUE, sent_level=1, last_sent_on=sent, as_of=date(2027, 6, 7)) is None
    )
    assert next_reminder(DEFAULT, DUE, sent_level=1, last_sent_on=sent, as_of=date(2027, 6, 8)) == (
        "reminder",
        2,
    )


def test_the_next_level_also_waits_for_the_plan() -> None:
    assert level_due_on(DEFAULT, DUE, 2) == date(2027, 3, 15)
    sent = date(2027, 3, 2)  # level 1 sent early (by an as_of run, say)
    assert (
        next_reminder(DEFAULT, DUE, sent_level=1, last_sent_on=sent, as_of=date(2027, 3, 14))
        is None
    )
    assert next_reminder(
        DEFAULT, DUE, sent_level=1, last_sent_on=sent, as_of=date(2027, 3, 15)
    ) == (
        "reminder",
        2,
    )


def test_the_final_notice_follows_the_last_reminder_and_nothing_follows_it() -> None:
    late = date(2028, 1, 1)
    assert next_reminder(
        DEFAULT, DUE, sent_level=2, last_sent_on=date(2027, 3, 15), as_of=late
    ) == (
        "final_notice",
        3,
    )
    assert (
        next_reminder(DEFAULT, DUE, sent_level=3, last_sent_on=date(2027, 3, 22), as_of=late)
        is None
    )


def test_a_plan_without_final_notice_stops_after_its_last_reminder() -> None:
    plan = Plan(first_after_days=3, interval_days=10, reminder_count=1, final_notice=False)
    assert plan.last_level == 1
    assert next_reminder(plan, DUE, sent_level=1, last_sent_on=DUE, as_of=date(2028, 1, 1)) is None


def test_a_plan_of_only_a_final_notice_sends_it_as_level_one() -> None:
    plan = Plan(first_after_days=14, interval_days=7, reminder_count=0, final_notice=True)
    assert next_reminder(plan, DUE, sent_level=0, last_sent_on=None, as_of=date(2027, 3, 15)) == (
        "final_notice",
        1,
    )


# --- days -------------------------------------------------------------------------------------


def test_reminders_go_out_monday_to_friday_and_invoice_emails_monday_to_saturday() -> None:
    saturday, sunday, monday = date(2027, 3, 6), date(2027, 3, 7), date(2027, 3, 8)
    assert sending_day(monday, "NL", "reminder").sending
    assert not sending_day(saturday, "NL", "reminder").sending
    assert sending_day(saturday, "NL", "reminder").reason == "not_working_day"
    assert sending_day(saturday, "NL", "invoice").sending
    assert not sending_day(sunday, "NL", "invoice").sending


def test_nothing_goes_out_on_kings_day() -> None:
    kings_day = date(2027, 4, 27)  # a Tuesday
    for kind in ("invoice", "reminder", "final_notice"):
        day = sending_day(kings_day, "NL", kind)  # type: ignore[arg-type]
        assert not day.sending
        assert day.reason == "holiday"
        assert "King's Day" in (day.detail or "")
    assert sending_day(date(2027, 4, 28), "NL", "reminder").sending


def test_holidays_are_those_of_the_administrations_country() -> None:
    independence_day = date(2027, 7, 5)  # a Monday, a public holiday in the US only
    assert sending_day(independence_day, "NL", "reminder").sending
    assert sending_day(independence_day, "US", "reminder").reason == "holiday"


def test_an_unknown_holiday_country_skips_no_day() -> None:
    assert sending_day(date(2027, 4, 27), "XX", "reminder").sending


# --- why not ----------------------------------------------------------------------------------


def _candidate(**changes: object) -> Candidate:
    values: dict[str, object] = {
        "administration_id": "acme",
        "invoice_number": "F1",
        "customer_number": "C1",
        "kind": "reminder",
        "level": 1,
        "invoice_status": "open",
        "customer_status": "active",
        "email": "c1@example.nl",
        "amount_open": Decimal("100"),
        "minimum_amount": Decimal("5"),
    }
    values.update(changes)
    return Candidate(**values)  # type: ignore[arg-type]


def _pause(entity: str, mode: str = "full", pause_id: int = 1) -> Pause:
    return Pause(pause_id, entity, "K", mode)  # type: ignore[arg-type]


def test_a_due_notification_with_nothing_against_it_is_sent() -> None:
    assert suppression_for(_candidate(), WORKING) is None


def test_each_pause_kind_stops_what_r8_says() -> None:
    for entity in ("administration", "customer", "case", "invoice"):
        for kind in ("invoice", "reminder", "final_notice"):
            found = suppression_for(_candidate(kind=kind, pauses=(_pause(entity),)), WORKING)
            assert found is not None and found.reason == "paused"
            assert found.pause == _pause(entity)


def test_a_reminders_only_pause_lets_invoice_emails_through() -> None:
    for entity in ("administration", "customer"):
        pauses = (_pause(entity, "reminders"),)
        assert suppression_for(_candidate(kind="invoice", level=0, pauses=pauses), WORKING) is None
        for kind in ("reminder", "final_notice"):
            found = suppression_for(_candidate(kind=kind, pauses=pauses), WORKING)
            assert found is not None and found.reason == "paused"


def test_the_broadest_pause_is_named() -> None:
    pauses = (
        _pause("invoice", pause_id=4),
        _pause("customer", pause_id=2),
        _pause("case", pause_id=3),
    )
    found = suppression_for(_candidate(pauses=pauses), WORKING)
    assert found is not None and found.pause is not None and found.pause.id == 2


def test_reasons_take_precedence_in_order() -> None:
    paused = (_pause("customer"),)
    holiday = Day(date(2027, 4, 27), False, "holiday", "King's Day")
    everything = _candidate(
        invoice_status="closed",
        ignored=Ignored("customer", "C*"),
        customer_status="blocked",
        pauses=paused,
        amount_open=Decimal("1"),
        email="",
    )
    steps = [
        ("closed", {}),
        ("ignored", {"invoice_status": "open"}),
        ("blocked", {"ignored": None}),
        ("paused", {"customer_status": "active"}),
        ("below_minimum", {"pauses": ()}),
        ("no_email", {"amount_open": Decimal("100")}),
        ("holiday", {"email": "c1@example.nl"}),
    ]
    candidate = everything
    for reason, change in steps:
        candidate = replace(candidate, **change)  # type: ignore[arg-type]
        found = suppression_for(candidate, holiday)
        assert found is not None and found.reason == reason, (reason, found)
    assert suppression_for(candidate, WORKING) is None


def test_the_minimum_is_about_chasing_so_invoice_emails_still_go() -> None:
    small = Decimal("2.50")
    assert suppression_for(_candidate(kind="invoice", level=0, amount_open=small), WORKING) is None
    found = suppression_for(_candidate(amount_open=small), WORKING)
    assert found is not None and found.reason == "below_minimum"


def test_a_pause_describes_itself_with_its_end_date_and_reason() -> None:
    pause = Pause(7, "customer", "C1", "reminders", "disputed", date(2027, 5, 1))
    assert pause.describe() == "customer C1 reminders paused until 2027-05-01 (disputed)"


# --- the e-mail -------------------------------------------------------------------------------


def test_the_message_id_is_the_same_for_every_attempt_at_one_notification() -> None:
    first = email_message_id("acme", "F1", "reminder", 1, "example.nl")
    assert first == email_message_id("acme", "F1", "reminder", 1, "example.nl")
    others = {
        email_message_id("acme", "F1", "reminder", 2, "example.nl"),
        email_message_id("acme", "F1", "final_notice", 1, "example.nl"),
        email_message_id("acme", "F2", "reminder", 1, "example.nl"),
        email_message_id("other", "F1", "reminder", 1, "example.nl"),
    }
    assert first not in others and len(others) == 4
    assert first.startswith("<creditflow.reminder.1.") and first.endswith("@example.nl>")


def test_customers_read_dutch_by_default_and_english_otherwise() -> None:
    assert language_of(None) == language_of("") == language_of("NL") == "nl"
    assert language_of("en") == language_of("de") == "en"


@pytest.mark.parametrize(
    ("amount", "costs"),
    [
        ("100", "40.00"),  # the minimum
        ("1210", "181.50"),  # 15%
        ("2500", "375.00"),
        ("5000", "625.00"),  # + 10% of the next 2,500
        ("10000", "875.00"),  # + 5% of the next 5,000
        ("200000", "2775.00"),  # + 1% of the next 190,000
        ("2000000", "6775.00"),  # capped
    ],
)
def test_collection_costs_follow_the_dutch_statutory_scale(amount: str, costs: str) -> None:
    assert collection_costs(Decimal(amount)) == Decimal(costs)


@pytest.mark.parametrize("text", ["20270301", "2027-13-01", "tomorrow", "", "2027-3-1", None, 5])
def test_dates_must_be_written_as_yyyy_mm_dd(text: object) -> None:
    with pytest.raises(ValueError, match=r"as_of .* is not a date \(YYYY-MM-DD\)"):
        parse_iso_date(text, "as_of")


def test_a_date_in_iso_form_is_read() -> None:
    assert parse_iso_date(" 2027-04-27 ", "until") == date(2027, 4, 27)


def test_the_sql_knows_every_character_python_strips_from_an_address() -> None:
    from services.notifier.store import PYTHON_WHITESPACE

    assert set(PYTHON_WHITESPACE) == {chr(i) for i in range(0x110000) if chr(i).isspace()}
