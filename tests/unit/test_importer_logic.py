"""The importer's pure decisions: what is outstanding (R3) and when a scheduled moment is due
(R2), across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.importer.logic import (
    chunked,
    is_outstanding,
    latest_due_moment,
    parse_import_time,
    parse_timezone,
)

AMSTERDAM = "Europe/Amsterdam"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("amount", ["121.00", "-25.00", "0.01", " 5 ", "abc", ""])
def test_an_invoice_is_outstanding_while_its_open_amount_is_not_zero_or_unreadable(
    amount: str,
) -> None:
    assert is_outstanding(amount)


@pytest.mark.parametrize("amount", ["0", "0.00", "-0.00", " 0 "])
def test_a_paid_invoice_is_not_outstanding(amount: str) -> None:
    assert not is_outstanding(amount)


def test_a_moment_is_due_from_its_local_time_in_winter_and_in_summer() -> None:
    # 06:00 in Amsterdam is 05:00 UTC in winter (CET) and 04:00 UTC in summer (CEST).
    assert latest_due_moment(utc(2026, 1, 15, 5, 0), ["06:00"], AMSTERDAM) == utc(2026, 1, 15, 5, 0)
    assert latest_due_moment(utc(2026, 7, 15, 4, 0), ["06:00"], AMSTERDAM) == utc(2026, 7, 15, 4, 0)


def test_on_the_spring_change_06_00_falls_an_hour_earlier_in_utc_than_the_day_before() -> None:
    # The clocks go forward on Sunday 29 March 2026 at 02:00 CET.
    before = utc(2026, 3, 29, 3, 59)  # 05:59 CEST
    at = utc(2026, 3, 29, 4, 0)  # 06:00 CEST
    assert latest_due_moment(before, ["06:00"], AMSTERDAM) == utc(2026, 3, 28, 5, 0)
    assert latest_due_moment(at, ["06:00"], AMSTERDAM) == at


def test_on_the_autumn_change_06_00_falls_an_hour_later_in_utc_than_the_day_before() -> None:
    # The clocks go back on Sunday 25 October 2026 at 03:00 CEST.
    before = utc(2026, 10, 25, 4, 59)  # 05:59 CET
    at = utc(2026, 10, 25, 5, 0)  # 06:00 CET
    assert latest_due_moment(before, ["06:00"], AMSTERDAM) == utc(2026, 10, 24, 4, 0)
    assert latest_due_moment(at, ["06:00"], AMSTERDAM) == at


def test_a_moment_in_the_missing_spring_hour_fires_once_an_hour_later_on_the_clock() -> None:
    # 02:30 does not exist on 29 March 2026; it is taken at the winter offset: 01:30 UTC.
    assert latest_due_moment(utc(2026, 3, 29, 1, 29), ["02:30"], AMSTERDAM) == utc(
        2026, 3, 28, 1, 30
    )
    assert latest_due_moment(utc(2026, 3, 29, 1, 30), ["02:30"], AMSTERDAM) == utc(
        2026, 3, 29, 1, 30
    )


def test_a_moment_in_the_repeated_autumn_hour_fires_at_its_first_occurrence_only() -> None:
    # 02:30 happens twice on 25 October 2026: at 00:30 UTC (CEST) and at 01:30 UTC (CET).
    first = utc(2026, 10, 25, 0, 30)
    assert latest_due_moment(first, ["02:30"], AMSTERDAM) == first
    # At the second 02:30 the latest due moment is still the first one: already claimed.
    assert latest_due_moment(utc(2026, 10, 25, 1, 30), ["02:30"], AMSTERDAM) == first
    assert latest_due_moment(utc(2026, 10, 25, 2, 45), ["02:30"], AMSTERDAM) == first


def test_several_times_a_day_give_the_latest_passed_one() -> None:
    times = ["06:00", "12:30", "18:00"]
    assert latest_due_moment(utc(2026, 1, 15, 12, 0), times, AMSTERDAM) == utc(2026, 1, 15, 11, 30)
    # Before the first moment of the day: yesterday's last one (caught up once).
    assert latest_due_moment(utc(2026, 1, 15, 4, 0), times, AMSTERDAM) == utc(2026, 1, 14, 17, 0)


def test_a_moment_is_taken_in_the_administrations_own_time_zone() -> None:
    assert latest_due_moment(utc(2026, 1, 15, 11, 0), ["06:00"], "America/New_York") == utc(
        2026, 1, 15, 11, 0
    )
    assert latest_due_moment(utc(2026, 1, 15, 10, 59), ["06:00"], "America/New_York") == utc(
        2026, 1, 14, 11, 0
    )


def test_moments_before_the_administration_existed_are_not_caught_up() -> None:
    created = utc(2026, 1, 15, 7, 0)
    early = latest_due_moment(utc(2026, 1, 15, 8, 0), ["06:00"], AMSTERDAM, not_before=created)
    assert early is None
    assert latest_due_moment(
        utc(2026, 1, 16, 5, 0), ["06:00"], AMSTERDAM, not_before=created
    ) == utc(2026, 1, 16, 5, 0)


@pytest.mark.parametrize("text", ["6:00", "24:00", "06:60", "0600", "", "06:00:00"])
def test_an_import_time_must_be_hh_mm_on_a_24_hour_clock(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_import_time(text)


def test_an_unknown_time_zone_is_refused_with_a_readable_reason() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        parse_timezone("Mars/Olympus")


def test_records_are_cut_into_chunks_of_at_most_the_given_size() -> None:
    assert list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunked([], 3)) == []
