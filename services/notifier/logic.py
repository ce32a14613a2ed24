"""The notifier's decisions, as plain functions of plain data (R8, R9).

- which level of a dunning plan is next, and when it is due (`next_reminder`),
- on which days e-mail may leave (`sending_day`),
- why a notification must not be sent, in order of precedence (`suppression_for`),
- the deterministic e-mail Message-ID, the customer's language, the Dutch collection costs.

The store selects due reminders with one SQL statement; tests check it against
`next_reminder`, which is the rule written out.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Literal

import holidays

__all__ = [
    "Candidate",
    "Day",
    "Ignored",
    "Kind",
    "Pause",
    "Plan",
    "Suppression",
    "collection_costs",
    "email_message_id",
    "holiday_name",
    "language_of",
    "level_due_on",
    "next_reminder",
    "parse_iso_date",
    "sending_day",
    "suppression_for",
]

log = logging.getLogger("creditflow.notifier")

Kind = Literal["invoice", "reminder", "final_notice"]
Entity = Literal["administration", "customer", "case", "invoice"]

REMINDER_KINDS: tuple[Kind, ...] = ("reminder", "final_notice")
# The broadest pause is named first: lifting a narrower one would not let the e-mail out.
PAUSE_PRECEDENCE: tuple[Entity, ...] = ("administration", "customer", "case", "invoice")

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_iso_date(text: object, name: str) -> date:
    """YYYY-MM-DD as a date; ValueError naming the field otherwise."""
    if isinstance(text, date):
        return text
    if isinstance(text, str) and _ISO_DATE.match(text.strip()):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise ValueError(f"{name} {text!r} is not a date (YYYY-MM-DD)")


# --- dunning plans (R9) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    first_after_days: int = 7
    interval_days: int = 7
    reminder_count: int = 2
    final_notice: bool = True

    @property
    def last_level(self) -> int:
        """Reminders are levels 1..count; the final notice, if any, the level after them."""
        return self.reminder_count + (1 if self.final_notice else 0)

    def kind_of(self, level: int) -> Kind | None:
        if 1 <= level <= self.reminder_count:
            return "reminder"
        if level == self.reminder_count + 1 and self.final_notice:
            return "final_notice"
        return None


def level_due_on(plan: Plan, due_date: date, level: int) -> date:
    """The day a level is due by the plan: first_after_days after the due date, then every
    interval_days."""
    return due_date + timedelta(days=plan.first_after_days + (level - 1) * plan.interval_days)


def next_reminder(
    plan: Plan,
    due_date: date,
    *,
    sent_level: int,
    last_sent_on: date | None,
    as_of: date,
) -> tuple[Kind, int] | None:
    """The one reminder an invoice gets in a run as of `as_of`, or None.

    Only the next level after the last one sent: no level is skipped, so an invoice long
    overdue at its first run (or after a long pause) starts where it stands, never with a
    burst. It is due both by the plan and by the interval since the previous one actually
    sent (by the date of the run that sent it).
    """
    level = sent_level + 1
    kind = plan.kind_of(level)
    if kind is None:
        return None
    if as_of < level_due_on(plan, due_date, level):
        return None
    if last_sent_on is not None and as_of < last_sent_on + timedelta(days=plan.interval_days):
        return None
    return kind, level


# --- days -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Day:
    on: date
    sending: bool
    reason: str | None = None  # holiday | not_working_day
    detail: str | None = None


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> dict[date, str]:
    try:
        return dict(holidays.country_holidays(country, years=year).items())
    except NotImplementedError:
        log.warning("no public holidays known for country %r; none are skipped", country)
        return {}


def holiday_name(day: date, country: str) -> str | None:
    return _holidays(country.upper(), day.year).get(day)


def sending_day(day: date, country: str, kind: Kind) -> Day:
    """R9: reminders leave Monday to Friday, invoice e-mails Monday to Saturday, never on the
    administration's public holidays."""
    last_weekday = 5 if kind == "invoice" else 4  # Saturday / Friday
    name = holiday_name(day, country)
    if name is not None:
        return Day(day, False, "holiday", f"{day.isoformat()} is a public holiday: {name}")
    if day.weekday() > last_weekday:
        what = "invoice e-mails" if kind == "invoice" else "reminders"
        return Day(
            day, False, "not_working_day", f"{day.strftime('%A')} {day.isoformat()}: no {what}"
        )
    return Day(day, True)


# --- why not (R8, R9) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pause:
    id: int
    entity: Entity
    key: str
    mode: Literal["full", "reminders"]
    reason: str | None = None
    until: date | None = None

    def covers(self, kind: Kind) -> bool:
        return self.mode == "full" or kind in REMINDER_KINDS

    def describe(self) -> str:
        what = "administration" if self.entity == "administration" else f"{self.entity} {self.key}"
        mode = "reminders paused" if self.mode == "reminders" else "paused"
        text = f"{what} {mode}"
        if self.until:
            text += f" until {self.until.isoformat()}"
        if self.reason:
            text += f" ({self.reason})"
        return text


@dataclass(frozen=True, slots=True)
class Ignored:
    entity: Literal["invoice", "customer", "payment_condition"]
    pattern: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A notification that is due, with every fact that may stop it."""

    administration_id: str
    invoice_number: str
    customer_number: str
    kind: Kind
    level: int
    invoice_status: str  # open | closed | blocked
    customer_status: str | None  # active | blocked | None (not loaded)
    email: str | None
    amount_open: Decimal
    minimum_amount: Decimal
    ignored: Ignored | None = None
    pauses: tuple[Pause, ...] = ()
    # the row's other columns: what the e-mail says, the local date, the holiday country
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.administration_id, self.invoice_number


@dataclass(frozen=True, slots=True)
class Suppression:
    reason: str
    detail: str
    pause: Pause | None = None


def suppression_for(candidate: Candidate, day: Day) -> Suppression | None:
    """Why this notification must not be sent now, or None to send it.

    Precedence: closed, ignored, blocked, paused (broadest pause first), below the minimum
    (reminders only: the minimum is about chasing), no address, then the day.
    """
    c = candidate
    if c.invoice_status == "closed":
        return Suppression("closed", f"invoice {c.invoice_number} is paid (closed)")
    if c.ignored is not None:
        entity = c.ignored.entity.replace("_", " ")
        return Suppression("ignored", f"{entity} on the ignore list (entry {c.ignored.pattern!r})")
    if c.invoice_status == "blocked" or c.customer_status == "blocked":
        what = (
            f"invoice {c.invoice_number}"
            if c.invoice_status == "blocked"
            else f"customer {c.customer_number}"
        )
        return Suppression("blocked", f"{what} is blocked (ignored data is not updated)")
    covering = [p for p in c.pauses if p.covers(c.kind)]
    if covering:
        pause = min(covering, key=lambda p: PAUSE_PRECEDENCE.index(p.entity))
        return Suppression("paused", pause.describe(), pause)
    if c.kind in REMINDER_KINDS and c.amount_open < c.minimum_amount:
        return Suppression(
            "below_minimum",
            f"open amount {c.amount_open} is below the minimum of {c.minimum_amount}",
        )
    if not c.email or not c.email.strip():
        return Suppression("no_email", f"customer {c.customer_number} has no e-mail address")
    if not day.sending:
        return Suppression(day.reason or "not_working_day", day.detail or "")
    return None


# --- the e-mail -------------------------------------------------------------------------------


def email_message_id(
    administration_id: str, invoice_number: str, kind: Kind, level: int, domain: str
) -> str:
    """The Message-ID of a notification: the same for every attempt at the same (invoice,
    kind, level), so a resend after a crash is recognisably the same e-mail."""
    identity = "\x1f".join((administration_id, invoice_number, kind, str(level)))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return f"<creditflow.{kind}.{level}.{digest}@{domain}>"


def language_of(code: str | None) -> Literal["nl", "en"]:
    """Dutch by default; English for English and for any other language, as the more widely
    read of the two."""
    text = (code or "").strip().lower()
    return "nl" if text in ("", "nl", "nld", "dut") else "en"


_WIK_BANDS = (
    (Decimal("2500"), Decimal("0.15")),
    (Decimal("2500"), Decimal("0.10")),
    (Decimal("5000"), Decimal("0.05")),
    (Decimal("190000"), Decimal("0.01")),
)
_WIK_REST = Decimal("0.005")
_WIK_MIN = Decimal("40")
_WIK_MAX = Decimal("6775")


def collection_costs(amount: Decimal) -> Decimal:
    """The Dutch statutory collection costs (Besluit vergoeding voor buitengerechtelijke
    incassokosten) that the 14-day letter must name: 15% of the first 2,500, 10% of the next
    2,500, 5% of the next 5,000, 1% of the next 190,000, 0.5% of the rest; at least 40 and
    at most 6,775."""
    rest, costs = max(amount, Decimal(0)), Decimal(0)
    for size, rate in _WIK_BANDS:
        part = min(rest, size)
        costs += part * rate
        rest -= part
    costs += rest * _WIK_REST
    return min(max(costs, _WIK_MIN), _WIK_MAX).quantize(Decimal("0.01"), ROUND_HALF_UP)
