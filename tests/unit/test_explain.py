"""R10: the explain rule, a pure function of what is known about a customer or invoice."""

from __future__ import annotations

from datetime import UTC, datetime

from services.control.explain_rule import (
    ErrorFact,
    Facts,
    IgnoreFact,
    comparable,
    decide,
    parse_changed_at,
)

LAST_RUN = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)  # 06:00 in Amsterdam
BAD_EMAIL = ErrorFact("invalid_email", "email", "jan@", "The e-mail address 'jan@' is not valid.")


def customer(**changes: object) -> Facts:
    base: dict[str, object] = {
        "entity": "customer",
        "key": "C1",
        "in_source": True,
        "outstanding": True,
        "loaded_status": "active",
        "last_complete_run": LAST_RUN,
        "zone": "Europe/Amsterdam",
    }
    return Facts(**{**base, **changes})  # type: ignore[arg-type]


def invoice(**changes: object) -> Facts:
    base: dict[str, object] = {
        "entity": "invoice",
        "key": "F1",
        "in_source": True,
        "outstanding": True,
        "loaded_status": "open",
        "customer": "C1",
        "last_complete_run": LAST_RUN,
        "zone": "Europe/Amsterdam",
    }
    return Facts(**{**base, **changes})  # type: ignore[arg-type]


def codes(facts: Facts) -> list[str]:
    return [reason.code for reason in decide(facts)]


def test_a_loaded_record_equal_to_the_source_is_up_to_date() -> None:
    [reason] = decide(customer())
    assert reason.code == "up_to_date"
    assert "2026-12-03 06:00 Europe/Amsterdam" in reason.detail


def test_a_record_that_is_not_in_the_export_was_never_imported() -> None:
    [reason] = decide(customer(in_source=False, loaded_status=None, outstanding=False))
    assert reason.code == "never_imported"
    assert "not in the accounting package's export" in reason.detail


def test_a_new_record_not_yet_seen_by_a_complete_run_waits_for_the_next_import() -> None:
    assert codes(customer(loaded_status=None)) == ["never_imported", "not_imported_since_change"]
    assert codes(customer(loaded_status=None, last_complete_run=None)) == [
        "never_imported",
        "not_imported_since_change",
    ]


def test_a_change_after_the_last_complete_run_is_not_imported_yet() -> None:
    changed = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    [reason] = decide(customer(changed_fields=("email", "changed_at"), changed_at=changed))
    assert reason.code == "not_imported_since_change"
    assert "10:30 Europe/Amsterdam" in reason.detail
    assert reason.extra["fields"] == ["email", "changed_at"]


def test_a_difference_without_a_change_date_is_not_imported_yet_either() -> None:
    [reason] = decide(customer(changed_fields=("email",)))
    assert reason.code == "not_imported_since_change"
    assert "e-mail address" in reason.detail


def test_a_customer_without_an_open_invoice_keeps_its_old_data() -> None:
    [reason] = decide(customer(outstanding=False, changed_fields=("email",)))
    assert reason.code == "no_open_invoice"
    assert "until it has one again" in reason.detail


def test_a_customer_whose_open_invoices_are_all_ignored_has_no_open_invoice() -> None:
    [reason] = decide(customer(outstanding=False, ignored_open_invoices=2))
    assert reason.code == "no_open_invoice"
    assert "not on the ignore list" in reason.detail


def test_a_paid_invoice_is_not_imported_and_says_whether_it_was_closed() -> None:
    [closed] = decide(invoice(outstanding=False, loaded_status="closed"))
    assert closed.code == "no_open_invoice" and "it was closed" in closed.detail
    [pending] = decide(invoice(outstanding=False))
    assert "next complete import closes it" in pending.detail
    assert codes(invoice(outstanding=False, loaded_status=None)) == [
        "never_imported",
        "no_open_invoice",
    ]


def test_open_errors_are_listed() -> None:
    other = ErrorFact("required", "city", "", "The city of customer C1 is missing.")
    [reason] = decide(customer(errors=(BAD_EMAIL, other), changed_fields=("email",)))
    assert reason.code == "validation_error"
    assert "2 open errors" in reason.detail
    assert "'jan@'" in reason.detail and "city" in reason.detail
    assert [e["code"] for e in reason.extra["errors"]] == ["invalid_email", "required"]


def test_a_never_loaded_record_with_an_error_says_both() -> None:
    assert codes(customer(loaded_status=None, errors=(BAD_EMAIL,))) == [
        "never_imported",
        "validation_error",
    ]


def test_an_ignored_record_names_its_entry() -> None:
    [reason] = decide(customer(ignored_by=IgnoreFact("customer", "C*", "C1")))
    assert reason.code == "ignored"
    assert "'C*'" in reason.detail and "blocked" in reason.detail
    assert reason.extra["entry"] == {"entity": "customer", "pattern": "C*"}


def test_an_invoice_ignored_through_its_customer_or_payment_condition_names_that_entry() -> None:
    [by_customer] = decide(invoice(ignored_by=IgnoreFact("customer", "1000...1999", "1500")))
    assert "customer '1500'" in by_customer.detail and "'1000...1999'" in by_customer.detail
    [by_condition] = decide(
        invoice(loaded_status=None, ignored_by=IgnoreFact("payment_condition", "CASH", "CASH"))
    )[1:]
    assert by_condition.code == "ignored"
    assert "payment condition 'CASH'" in by_condition.detail
    assert "blocked" not in by_condition.detail  # nothing was loaded to block


def test_an_invoice_of_a_customer_with_an_error_is_blocked_by_its_customer() -> None:
    [reason] = decide(invoice(loaded_status=None, customer_errors=(BAD_EMAIL,)))[1:]
    assert reason.code == "blocked_by_customer"
    assert "customer 'C1'" in reason.detail and "'jan@'" in reason.detail
    assert reason.extra["customer"] == "C1"


def test_a_changed_fixed_invoice_field_is_kept_and_other_changes_still_follow() -> None:
    [reason] = decide(invoice(changed_fields=("due_date",)))
    assert reason.code == "immutable_field_changed"
    assert "due date" in reason.detail and "kept" in reason.detail
    assert codes(invoice(changed_fields=("due_date", "amount_open"))) == [
        "immutable_field_changed",
        "not_imported_since_change",
    ]


def test_an_open_invoice_gone_from_the_export_is_closed_by_the_next_complete_import() -> None:
    [reason] = decide(invoice(in_source=False, outstanding=False))
    assert reason.code == "not_imported_since_change"
    assert "closes it" in reason.detail
    [closed] = decide(invoice(in_source=False, outstanding=False, loaded_status="closed"))
    assert closed.code == "up_to_date"


def test_a_blocked_record_no_longer_ignored_is_taken_over_again() -> None:
    [reason] = decide(customer(loaded_status="blocked"))
    assert reason.code == "not_imported_since_change"
    assert "no longer names it" in reason.detail


def test_a_closed_invoice_open_again_in_the_source_is_reopened_by_the_next_import() -> None:
    assert codes(invoice(loaded_status="closed")) == ["not_imported_since_change"]


def test_an_unreadable_source_is_said_and_never_called_up_to_date() -> None:
    facts = customer(in_source=False, outstanding=False, source_problem="x.csv: missing")
    [reason] = decide(facts)
    assert reason.code == "source_unreadable"
    assert "x.csv: missing" in reason.detail


def test_blocking_reasons_come_without_a_promise_that_the_next_import_takes_it_over() -> None:
    facts = customer(changed_fields=("email",), errors=(BAD_EMAIL,))
    assert codes(facts) == ["validation_error"]


def test_source_and_loaded_values_compare_as_the_loader_stores_them() -> None:
    source = {"customer_number": " C1 ", "country": "", "language": "NL", "phone": ""}
    loaded = {"customer_number": "C1", "country": "NL", "language": "nl", "phone": None}
    assert comparable("customer", source) == comparable("customer", loaded)
    raw = {"amount_total": "121", "currency": "eur", "invoice_date": "2026-11-01"}
    stored = {"amount_total": "121.00", "currency": "EUR", "invoice_date": "2026-11-01"}
    assert comparable("invoice", raw) == comparable("invoice", stored)
    assert comparable("invoice", {"amount_open": "12,50"})["amount_open"] == "12,50"


def test_a_change_date_is_read_in_the_administrations_zone_unless_it_has_an_offset() -> None:
    zone = "Europe/Amsterdam"
    assert parse_changed_at("2026-12-03", zone) == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert parse_changed_at("2026-12-03T10:00:00", zone) == datetime(2026, 12, 3, 9, tzinfo=UTC)
    assert parse_changed_at("2026-12-03T10:00:00Z", zone) == datetime(2026, 12, 3, 10, tzinfo=UTC)
    assert parse_changed_at("yesterday", zone) is None
    assert parse_changed_at("", zone) is None
