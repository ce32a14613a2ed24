"""The importer's decisions, as plain functions: what is outstanding (R3), when a scheduled
moment is due (R2), and how records are cut into chunks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "chunked",
    "is_outstanding",
    "latest_due_moment",
    "parse_import_time",
    "parse_timezone",
]

T = TypeVar("T")

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def is_outstanding(amount_open: str) -> bool:
    """R3: an invoice is loaded while its open amount is not zero (credit notes count).

    An amount that cannot be read counts as outstanding, so that validation reports it
    instead of the import silently dropping it.
    """
    try:
        return Decimal(amount_open.strip()) != 0
    except (InvalidOperation, ValueError):
        return True


def parse_import_time(text: str) -> time:
    """`HH:MM` (24-hour clock) as a time; ValueError with a readable message otherwise."""
    match = _HH_MM.match(text.strip())
    if not match:
        raise ValueError(f"import time {text!r} is not HH:MM on a 24-hour clock")
    return time(int(match.group(1)), int(match.group(2)))


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"time zone {name!r} is not known (use a name like Europe/Amsterdam)"
        ) from None


def _local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    # fold=0: a moment inside the autumn's repeated hour fires at its first occurrence only,
    # and a moment inside the spring's missing hour fires at the same offset an hour later.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def latest_due_moment(
    now: datetime, times: Sequence[str], timezone: str, *, not_before: datetime | None = None
) -> datetime | None:
    """The most recent scheduled moment at or before `now` (UTC), or None.

    Looks at today and yesterday in the administration's zone, so a moment missed while no
    importer ran is caught up once, never several times. `not_before` keeps an administration
    from catching up on moments before it existed.
    """
    zone = parse_timezone(timezone)
    today = now.astimezone(zone).date()
    moments = [
        _local_moment(day, parse_import_time(text), zone)
        for day in (today - timedelta(days=1), today)
        for text in times
    ]
    due = [m for m in moments if m <= now and (not_before is None or m >= not_before)]
    return max(due) if due else None


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
