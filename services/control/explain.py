"""R10 explain: gathers the facts about a customer or invoice and words the answer.

    {"administration_id": "acme", "entity": "customer", "key": "C1",
     "reasons": [{"code": ..., "detail": ...}, ...]}

The facts: the record as the source holds it now (read in a worker thread; for a customer also
its open invoices there), the loaded record, its open errors, the ignore entry that matches it
(`ignore_match`, for an invoice also through its customer and payment condition), an invoice's
customer's open errors, and the start of the last completed run. The rule itself is
`services/control/explain_rule.decide`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.control.admins import require_administration
from services.control.explain_rule import (
    ErrorFact,
    ExplainedEntity,
    Facts,
    IgnoreFact,
    comparable,
    decide,
    parse_changed_at,
)
from services.importer.logic import is_outstanding
from services.importer.sources import SourceError, open_source
from shared.errors import Invalid

__all__ = ["explain", "parse_explained_entity"]


# --- gathering the facts ------------------------------------------------------------------------


@dataclass(frozen=True)
class _SourceView:
    row: dict[str, str] | None = None
    problem: str | None = None
    open_invoices: tuple[tuple[str, str], ...] = ()  # customer: (invoice, payment condition)


def _read_source(spec: str, entity: ExplainedEntity, key: str) -> _SourceView:
    """The record as the source holds it now (blocking: run in a thread)."""
    try:
        source = open_source(spec)
        found = source.find(entity, key)
        open_invoices: list[tuple[str, str]] = []
        if entity == "customer" and found is not None:
            for row in source.invoices():
                data = row.data
                if (data.get("customer_number") or "").strip() == key and is_outstanding(
                    data.get("amount_open") or ""
                ):
                    open_invoices.append(
                        (
                            (data.get("invoice_number") or "").strip(),
                            (data.get("payment_condition") or "").strip(),
                        )
                    )
    except (SourceError, ValueError) as exc:
        return _SourceView(problem=str(exc))
    return _SourceView(found.data if found else None, None, tuple(open_invoices))


def parse_explained_entity(entity: object) -> ExplainedEntity:
    if entity == "customer" or entity == "invoice":
        return entity
    raise Invalid(f"entity {entity!r} must be customer or invoice")


async def explain(
    pool: asyncpg.Pool, administration_id: str, entity: object, key: str
) -> dict[str, Any]:
    """Why the record's current source data is or is not taken over (R10)."""
    name = parse_explained_entity(entity)
    key = key.strip()
    if not key:
        raise Invalid(f"a {name} key may not be empty")
    admin = await require_administration(pool, administration_id)
    zone = admin["timezone"]
    source = await asyncio.to_thread(_read_source, admin["source"], name, key)
    facts = await _gather(pool, administration_id, name, key, source, zone)
    return {
        "administration_id": administration_id,
        "entity": name,
        "key": key,
        "reasons": [reason.as_json() for reason in decide(facts)],
    }


_LOADED_SQL = {
    "customer": "select * from customers where administration_id = $1 and customer_number = $2",
    "invoice": "select * from invoices where administration_id = $1 and invoice_number = $2",
}
_OPEN_ERRORS_SQL = """
select entity, key, code, field, value, message from validation_errors
where administration_id = $1 and entity = $2 and key = any($3::text[])
  and status = 'open' and severity = 'error'
order by key, code
"""
_IGNORE_SQL = """
select ignore_match($1, $2, $3) as own,
       ignore_match($1, 'customer', $4::text) as via_customer,
       ignore_match($1, 'payment_condition', $5::text) as via_condition,
       (select max(started_at) from import_runs
        where administration_id = $1 and status = 'completed') as last_complete_run
"""
_IGNORED_OPEN_INVOICES_SQL = """
select count(*) filter (where ignore_match($1, 'invoice', t.number) is not null
                           or (t.condition <> ''
                               and ignore_match($1, 'payment_condition', t.condition) is not null))
from unnest($2::text[], $3::text[]) as t(number, condition)
"""


async def _gather(
    pool: asyncpg.Pool,
    admin: str,
    entity: ExplainedEntity,
    key: str,
    source: _SourceView,
    zone: str,
) -> Facts:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_LOADED_SQL[entity], admin, key)
        loaded = dict(row) if row is not None else None
        data = source.row or {}
        reference = data if source.row is not None else (loaded or {})
        customer = condition = None
        if entity == "invoice":
            customer = str(reference.get("customer_number") or "").strip() or None
            condition = str(reference.get("payment_condition") or "").strip() or None
        errors = await conn.fetch(_OPEN_ERRORS_SQL, admin, entity, [key])
        ignore = await conn.fetchrow(_IGNORE_SQL, admin, entity, key, customer, condition)
        customer_errors = (
            await conn.fetch(_OPEN_ERRORS_SQL, admin, "customer", [customer]) if customer else []
        )
        ignored_open = 0
        if source.open_invoices:
            ignored_open = await conn.fetchval(
                _IGNORED_OPEN_INVOICES_SQL,
                admin,
                [number for number, _ in source.open_invoices],
                [condition for _, condition in source.open_invoices],
            )

    ignored_by = None
    if ignore["own"] is not None:
        ignored_by = IgnoreFact(entity, ignore["own"], key)
    elif ignore["via_customer"] is not None and customer:
        ignored_by = IgnoreFact("customer", ignore["via_customer"], customer)
    elif ignore["via_condition"] is not None and condition:
        ignored_by = IgnoreFact("payment_condition", ignore["via_condition"], condition)

    if entity == "invoice":
        outstanding = source.row is not None and is_outstanding(data.get("amount_open") or "")
    else:
        outstanding = len(source.open_invoices) > ignored_open
    changed: tuple[str, ...] = ()
    if source.row is not None and loaded is not None:
        now, was = comparable(entity, data), comparable(entity, _loaded_text(loaded))
        changed = tuple(name for name in now if now[name] != was[name])
    return Facts(
        entity=entity,
        key=key,
        in_source=source.row is not None,
        outstanding=outstanding,
        loaded_status=loaded["status"] if loaded else None,
        changed_fields=changed,
        errors=tuple(_error_fact(e) for e in errors),
        ignored_by=ignored_by,
        customer=customer,
        customer_errors=tuple(_error_fact(e) for e in customer_errors),
        ignored_open_invoices=ignored_open,
        changed_at=parse_changed_at(data.get("changed_at"), zone) if entity == "customer" else None,
        last_complete_run=ignore["last_complete_run"],
        source_problem=source.problem,
        zone=zone,
    )


def _loaded_text(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for name in ("invoice_date", "due_date"):
        if out.get(name) is not None:
            out[name] = out[name].isoformat()
    return out


def _error_fact(row: Mapping[str, Any]) -> ErrorFact:
    return ErrorFact(row["code"], row["field"], row["value"], row["message"])
