"""The page's pure helpers: grouping errors with their fix hints, wording runs and times."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.dashboard.views import format_duration, format_moment, group_errors, run_rows
from services.validator.rules import fix_hint


def _error(entity: str, key: str, code: str = "required", severity: str = "error") -> dict:
    return {"entity": entity, "key": key, "code": code, "field": "email", "severity": severity}


def test_errors_are_grouped_by_entity_in_a_fixed_order_with_errors_before_warnings() -> None:
    groups = group_errors(
        [
            _error("invoice", "F1"),
            _error("customer", "C2", "invalid_phone", "warning"),
            _error("customer", "C9", "invalid_email"),
            _error("payment_condition", "30D", "invalid_term"),
        ]
    )
    assert [g.entity for g in groups] == ["customer", "invoice", "payment_condition"]
    assert [e["key"] for e in groups[0].errors] == ["C9", "C2"]
    assert groups[0].blocking == 1


def test_every_grouped_error_carries_the_hint_for_fixing_it_in_the_accounting_package() -> None:
    (group,) = group_errors([_error("customer", "C1", "invalid_email")])
    assert group.errors[0]["fix_hint"] == fix_hint("invalid_email", "customer", "email")
    assert "accounting package" in group.errors[0]["fix_hint"]


def test_no_errors_make_no_groups() -> None:
    assert group_errors([]) == []


def test_durations_read_naturally() -> None:
    assert format_duration(None) == ""
    assert format_duration(2.345) == "2.3 s"
    assert format_duration(42) == "42 s"
    assert format_duration(125) == "2 min 5 s"
    assert format_duration(3 * 3600 + 120) == "3 h 2 min"


def test_moments_are_shown_in_the_administrations_time_zone() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    assert format_moment("2026-12-03T09:00:00+00:00", amsterdam) == "2026-12-03 10:00"
    assert format_moment(None, amsterdam) == ""


def test_run_rows_list_counts_per_entity_in_the_order_of_the_count_names() -> None:
    run = {
        "run_id": "r",
        "status": "system_error",
        "started_at": "2026-12-03T09:00:00+00:00",
        "duration_seconds": 1.5,
        "counts": {
            "invoice": {"added": 2, "blocked": 1},
            "customer": {"updated": 3, "unchanged": 4},
        },
    }
    (row,) = run_rows([run], ZoneInfo("UTC"))
    assert row["status_words"] == "system error"
    assert row["duration"] == "1.5 s"
    assert row["count_rows"] == [("Customers", [0, 3, 4, 0, 0]), ("Invoices", [2, 0, 0, 1, 0])]
