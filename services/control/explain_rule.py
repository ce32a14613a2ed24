"""R10, the rule: why a customer's or invoice's current source data is, or is not, taken over.

`decide(facts)` is a pure function of what is known about the record (the source as it stands
now, the loaded record, its open errors, the ignore list, its customer's errors, the last
complete run); `services/control/explain.py` gathers those facts. Codes (DESIGN section 8):
never_imported, not_imported_since_change, no_open_invoice, validation_error, ignored,
blocked_by_customer, up_to_date. Extensions: immutable_field_changed (a field fixed once an
invoice is loaded differs in the source and is kept) and source_unreadable (the export cannot be
read now). Some reasons carry more fields: `errors` (validation_error, blocked_by_customer),
`customer` (blocked_by_customer), `entry` (ignored), `fields` (immutable_field_changed,
not_imported_since_change).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.validator.store import FIXED_INVOICE_FIELDS
from shared.source_format import COLUMNS

__all__ = [
    "EXPLAINED_ENTITIES",
    "ErrorFact",
    "ExplainedEntity",
    "Facts",
    "IgnoreFact",
    "Reason",
    "comparable",
    "decide",
    "parse_changed_at",
]

ExplainedEntity = Literal["customer", "invoice"]
EXPLAINED_ENTITIES: tuple[ExplainedEntity, ...] = ("customer", "invoice")

_FIELD_WORDS = {
    "customer_number": "customer",
    "invoice_date": "invoice date",
    "due_date": "due date",
    "amount_total": "total amount",
    "amount_open": "open amount",
    "payment_condition": "payment condition",
    "postal_code": "postal code",
    "vat_number": "VAT number",
    "changed_at": "change date",
    "email": "e-mail address",
}


# --- the facts and the rule ---------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorFact:
    code: str
    field: str
    value: str
    message: str


@dataclass(frozen=True)
class IgnoreFact:
    """The ignore entry that keeps the record out: on its own list, or (for an invoice) on
    its customer's or its payment condition's."""

    entity: str  # the list the entry is on
    pattern: str
    key: str  # the key it matched


@dataclass(frozen=True)
class Facts:
    entity: ExplainedEntity
    key: str
    in_source: bool  # the record is in the export now
    outstanding: bool  # invoice: open amount not zero; customer: an open, not ignored invoice
    loaded_status: str | None = None  # None: never loaded
    changed_fields: tuple[str, ...] = ()  # source values that differ from the loaded ones
    errors: tuple[ErrorFact, ...] = ()  # open errors (not warnings) on the record
    ignored_by: IgnoreFact | None = None
    customer: str | None = None  # an invoice's customer
    customer_errors: tuple[ErrorFact, ...] = ()  # an invoice's customer's open errors
    ignored_open_invoices: int = 0  # customer: open invoices in the source that are ignored
    changed_at: datetime | None = None  # customer: when it changed in the source
    last_complete_run: datetime | None = None  # start of the last completed run
    source_problem: str | None = None  # the export cannot be read now
    zone: str = "UTC"


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, **self.extra}


def decide(facts: Facts) -> list[Reason]:
    """Every reason that applies, in the order a bookkeeper would want them; never empty."""
    f = facts
    what = f"{_words(f.entity)} '{f.key}'"
    loaded = f.loaded_status is not None
    reasons: list[Reason] = []

    if not loaded:
        where = (
            ": it is not in the accounting package's export"
            if not f.in_source and f.source_problem is None
            else ""
        )
        reasons.append(Reason("never_imported", f"{_cap(what)} has never been loaded{where}."))
    if f.source_problem is not None:
        reasons.append(
            Reason(
                "source_unreadable",
                f"The accounting package's export cannot be read now ({f.source_problem}), "
                f"so the next import fails until it is corrected.",
            )
        )
    if f.ignored_by is not None:
        reasons.append(_ignored(f, what, loaded))
    if f.errors:
        reasons.append(
            Reason(
                "validation_error",
                f"{_cap(what)} has {_count(len(f.errors), 'open error')}, so its current data "
                f"is not loaded: {_messages(f.errors)}",
                {"errors": [_error_json(e) for e in f.errors]},
            )
        )
    if f.entity == "invoice" and f.customer_errors:
        reasons.append(
            Reason(
                "blocked_by_customer",
                f"{_cap(what)} is held back because its customer '{f.customer}' has "
                f"{_count(len(f.customer_errors), 'open error')}: {_messages(f.customer_errors)}",
                {"customer": f.customer, "errors": [_error_json(e) for e in f.customer_errors]},
            )
        )
    if f.in_source and not f.outstanding:
        reasons.append(_no_open_invoice(f, what))
    elif loaded and not f.in_source and f.source_problem is None and f.entity == "customer":
        reasons.append(
            Reason(
                "no_open_invoice",
                f"{_cap(what)} is no longer in the accounting package's export, so nothing of "
                f"it is taken over; the loaded data stays as last imported.",
            )
        )

    fixed = [n for n in f.changed_fields if f.entity == "invoice" and n in FIXED_INVOICE_FIELDS]
    if loaded and fixed and f.in_source:
        reasons.append(
            Reason(
                "immutable_field_changed",
                f"The {_field_list(fixed)} of {what} changed in the accounting package, but "
                f"{'it is' if len(fixed) == 1 else 'they are'} fixed once an invoice is loaded, "
                f"so the loaded {'value is' if len(fixed) == 1 else 'values are'} kept.",
                {"fields": fixed},
            )
        )

    if not any(reason.code in _HOLDING for reason in reasons):
        stale = _stale(f, what, [n for n in f.changed_fields if n not in fixed])
        if stale is not None:
            reasons.append(stale)
    if not reasons:
        reasons.append(_up_to_date(f, what))
    return reasons


# Reasons that keep the current source data out; the others only describe.
_HOLDING = frozenset(
    {"source_unreadable", "ignored", "validation_error", "blocked_by_customer", "no_open_invoice"}
)


def _ignored(f: Facts, what: str, loaded: bool) -> Reason:
    entry = f.ignored_by
    assert entry is not None
    blocked = " and its loaded data is blocked" if loaded else ""
    if entry.entity == f.entity:
        detail = (
            f"{_cap(what)} is on the ignore list (entry '{entry.pattern}'), so it is not "
            f"loaded{blocked}."
        )
    else:
        detail = (
            f"{_cap(what)} has {_words(entry.entity)} '{entry.key}', which is on the ignore "
            f"list (entry '{entry.pattern}'), so it is not loaded{blocked}."
        )
    return Reason(
        "ignored",
        detail,
        {"entry": {"entity": entry.entity, "pattern": entry.pattern}},
    )


def _no_open_invoice(f: Facts, what: str) -> Reason:
    if f.entity == "invoice":
        after = {
            None: "",
            "closed": "; it was closed",
            "open": "; the next complete import closes it",
            "blocked": "; the next complete import closes it",
        }.get(f.loaded_status, "")
        return Reason(
            "no_open_invoice",
            f"{_cap(what)} is paid in the accounting package (its open amount is 0), so it "
            f"is not imported{after}.",
        )
    also = " that is not on the ignore list" if f.ignored_open_invoices else ""
    return Reason(
        "no_open_invoice",
        f"{_cap(what)} has no open invoice in the accounting package{also}, so changes to it "
        f"are not taken over until it has one again.",
    )


def _stale(f: Facts, what: str, changed: Sequence[str]) -> Reason | None:
    """not_imported_since_change, when the next import would change what is loaded."""
    since = (
        f"the last complete import (started {_when(f.last_complete_run, f.zone)})"
        if f.last_complete_run
        else "any complete import (none has run yet)"
    )
    if not f.in_source:
        if (
            f.entity == "invoice"
            and f.loaded_status in ("open", "blocked")
            and not (f.source_problem)
        ):
            return Reason(
                "not_imported_since_change",
                f"{_cap(what)} is no longer in the accounting package's export; the next "
                f"complete import closes it.",
            )
        return None
    if f.loaded_status is None:
        return Reason(
            "not_imported_since_change",
            f"{_cap(what)} is in the accounting package's export, but was not there or could "
            f"not be loaded at {since}; the next import loads it.",
        )
    changed_after = f.changed_at is not None and (
        f.last_complete_run is None or f.changed_at > f.last_complete_run
    )
    if changed_after:
        assert f.changed_at is not None
        return Reason(
            "not_imported_since_change",
            f"{_cap(what)} changed in the accounting package at "
            f"{_when(f.changed_at, f.zone)}, after {since}; the next import takes it over.",
            {"fields": list(changed)},
        )
    if changed:
        return Reason(
            "not_imported_since_change",
            f"The accounting package holds a newer {_field_list(changed)} for {what} than "
            f"{since} loaded; the next import takes it over.",
            {"fields": list(changed)},
        )
    if f.loaded_status == "blocked":
        return Reason(
            "not_imported_since_change",
            f"{_cap(what)} was blocked by the ignore list, which no longer names it; the next "
            f"import takes it over again.",
        )
    if f.entity == "invoice" and f.loaded_status == "closed":
        return Reason(
            "not_imported_since_change",
            f"{_cap(what)} was closed, but it is open again in the accounting package; the "
            f"next import reopens it.",
        )
    return None


def _up_to_date(f: Facts, what: str) -> Reason:
    if f.entity == "invoice" and f.loaded_status == "closed" and not f.in_source:
        return Reason(
            "up_to_date",
            f"{_cap(what)} was closed (paid) and is no longer in the accounting package's export.",
        )
    run = f" (last complete import started {_when(f.last_complete_run, f.zone)})"
    return Reason(
        "up_to_date",
        f"{_cap(what)} is up to date: the loaded data is what the accounting package holds"
        f"{run if f.last_complete_run else ''}.",
    )


def _error_json(error: ErrorFact) -> dict[str, str]:
    return {
        "code": error.code,
        "field": error.field,
        "value": error.value,
        "message": error.message,
    }


def _messages(errors: Sequence[ErrorFact]) -> str:
    return " ".join(error.message for error in errors)


def _count(n: int, noun: str) -> str:
    if n != 1:
        return f"{n} {noun}s"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _words(entity: str) -> str:
    return entity.replace("_", " ")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _field_list(names: Sequence[str]) -> str:
    words = [_FIELD_WORDS.get(name, name.replace("_", " ")) for name in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _when(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "never"
    return f"{moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


# --- comparing the source with what is loaded --------------------------------------------------


def comparable(entity: ExplainedEntity, record: Mapping[str, Any]) -> dict[str, str]:
    """A record's fields as the loader would store them, as text, for comparison.

    Takes raw source values or a loaded record: values are stripped; empty means absent;
    country, currency and language codes are case-normalised (an empty country is NL, as the
    loader takes it); amounts get two decimals. A value the loader could not read is kept as
    it is, so it compares unequal.
    """
    out: dict[str, str] = {}
    for name in COLUMNS[entity]:
        value = record.get(name)
        text = "" if value is None else str(value).strip()
        if name == "country":
            text = text.upper() or "NL"
        elif name == "currency":
            text = text.upper()
        elif name == "language":
            text = text.lower()
        elif name in ("amount_total", "amount_open") and text:
            try:
                text = f"{Decimal(text).quantize(Decimal('0.01')):.2f}"
            except (InvalidOperation, ValueError):
                pass
        out[name] = text
    return out


def parse_changed_at(text: str | None, zone: str) -> datetime | None:
    """`changed_at` as a moment: an ISO date (its start, in the administration's zone) or an
    ISO date and time (in that zone unless it carries an offset); None when unreadable."""
    if not text or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)
