"""The validator's SQL: staging chunks, and loading a complete run in one transaction.

Loading a run (`finalize`) is set-based from start to end: cross-record checks, the ignore
list (R7), the merge of what is valid (R5, with fixed invoice fields), blocking, closing what
left the import (R4), the error lifecycle (R6), the run's counts and its events, in one
transaction. A run whose chunks have not all arrived is never loaded, so an incomplete or
failed run changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from services.validator.rules import CODE_SEVERITY, describe
from services.validator.staging import COLUMNS, HASHED, TABLE, StagedBatch
from shared.messages import ImportRunEvent, ValidationErrorEvent
from shared.outbox import stage
from shared.topics import Topics

__all__ = ["FIXED_INVOICE_FIELDS", "RunOutcome", "ValidatorStore"]

log = logging.getLogger("creditflow.validator")

ENTITIES = ("customer", "invoice", "payment_condition")
FINDING_COLUMNS = ["run_id", "entity", "key", "code", "field", "value", "severity", "message"]
CHANGES_PER_MESSAGE = 2000

# Fields fixed once an invoice is loaded (R5); a later change is reported, not applied.
FIXED_INVOICE_FIELDS = (
    "customer_number",
    "invoice_date",
    "due_date",
    "amount_total",
    "payment_condition",
)

_STAGED_KEY = {
    "customer": ("staged_customers", "customer_number"),
    "invoice": ("staged_invoices", "invoice_number"),
    "payment_condition": ("staged_payment_conditions", "code"),
}


@dataclass
class RunOutcome:
    run_id: UUID
    administration_id: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    raised: int = 0
    resolved: int = 0
    changes: int = 0


# --- cross-record checks: (entity, key, code, field, value, context) ---------------------------

_CROSS_RECORD_SQL = """
select entity, key, 'duplicate_key' as code, key_column as field, key as value,
       count(*)::text as detail
from (
    select 'customer' as entity, customer_number as key, 'customer_number' as key_column
      from staged_customers where run_id = $1::uuid
    union all
    select 'invoice', invoice_number, 'invoice_number' from staged_invoices where run_id = $1::uuid
    union all
    select 'payment_condition', code, 'code' from staged_payment_conditions where run_id = $1::uuid
) keys
group by entity, key, key_column having count(*) > 1
union all
select 'invoice', i.invoice_number, 'unknown_customer', 'customer_number', i.customer_number, ''
from staged_invoices i
where i.run_id = $1::uuid and i.customer_number <> ''
  and not exists (select 1 from staged_customers c
                  where c.run_id = $1::uuid and c.customer_number = i.customer_number)
union all
select 'invoice', i.invoice_number, 'unknown_payment_condition', 'payment_condition',
       i.payment_condition, ''
from staged_invoices i
where i.run_id = $1::uuid and i.payment_condition <> ''
  and not exists (select 1 from staged_payment_conditions p
                  where p.run_id = $1::uuid and p.code = i.payment_condition)
union all
select 'payment_condition', p.code, 'no_dunning_plan', 'code', p.code, ''
from staged_payment_conditions p
where p.run_id = $1::uuid and p.code <> ''
  and not exists (select 1 from dunning_plans d where d.administration_id = $2::text
                  and d.condition_code in (p.code, 'default'))
"""

# --- the ignore list (R7): the entry itself, or the invoice's customer or payment condition ----

_IGNORED_SQL = [
    """create temp table run_ignored (
           entity text, key text, pattern text, via text, primary key (entity, key)
       ) on commit drop""",
    """insert into run_ignored
       select distinct on (s.customer_number) 'customer', s.customer_number, e.pattern, 'entry'
       from staged_customers s join ignore_entries e on e.administration_id = $2::text
            and e.entity = 'customer' and ignore_entry_matches(e, s.customer_number)
       where s.run_id = $1::uuid order by s.customer_number, e.id""",
    """insert into run_ignored
       select distinct on (s.code) 'payment_condition', s.code, e.pattern, 'entry'
       from staged_payment_conditions s join ignore_entries e on e.administration_id = $2::text
            and e.entity = 'payment_condition' and ignore_entry_matches(e, s.code)
       where s.run_id = $1::uuid order by s.code, e.id""",
    """insert into run_ignored
       select distinct on (s.invoice_number) 'invoice', s.invoice_number, e.pattern,
              case e.entity when 'invoice' then 'entry' else e.entity end
       from staged_invoices s join ignore_entries e on e.administration_id = $2::text and (
            (e.entity = 'invoice' and ignore_entry_matches(e, s.invoice_number))
         or (e.entity = 'customer' and ignore_entry_matches(e, s.customer_number))
         or (e.entity = 'payment_condition' and s.payment_condition <> ''
             and ignore_entry_matches(e, s.payment_condition)))
       where s.run_id = $1::uuid
       order by s.invoice_number, (e.entity = 'invoice') desc, e.id""",
    "analyze run_ignored",
]

# R3 after R7: a customer or payment condition that only ignored invoices refer to leaves the
# run, as if the export had not referred to it: it is neither loaded nor validated.
_UNREFERENCED_SQL = [
    """create temp table run_unreferenced on commit drop as
       select 'customer' as entity, s.customer_number as key from staged_customers s
       where s.run_id = $1::uuid
         and not exists (select 1 from run_ignored r
                         where r.entity = 'customer' and r.key = s.customer_number)
         and not exists (select 1 from staged_invoices i
                         where i.run_id = $1::uuid and i.customer_number = s.customer_number
                           and not exists (select 1 from run_ignored r
                                           where r.entity = 'invoice' and r.key = i.invoice_number))
       union
       select 'payment_condition', s.code from staged_payment_conditions s
       where s.run_id = $1::uuid
         and not exists (select 1 from run_ignored r
                         where r.entity = 'payment_condition' and r.key = s.code)
         and not exists (select 1 from staged_invoices i
                         where i.run_id = $1::uuid and i.payment_condition = s.code
                           and not exists (select 1 from run_ignored r where
                                           r.entity = 'invoice' and r.key = i.invoice_number))""",
    """delete from staged_customers s using run_unreferenced u
       where s.run_id = $1::uuid and u.entity = 'customer' and u.key = s.customer_number""",
    """delete from staged_payment_conditions s using run_unreferenced u
       where s.run_id = $1::uuid and u.entity = 'payment_condition' and u.key = s.code""",
    """delete from staged_findings f using run_unreferenced u
       where f.run_id = $1::uuid and u.entity = f.entity and u.key = f.key""",
]

# One finding per error identity (R6); several fields with the same code are named together.
_FINDINGS_SQL = [
    """create temp table run_findings on commit drop as
       select f.entity, f.key, f.code,
              string_agg(distinct f.field, ', ') as field,
              (array_agg(f.value order by f.field))[1] as value,
              min(f.severity) as severity,  -- 'error' < 'warning': any error blocks
              string_agg(f.message, ' ' order by f.field) as message
       from staged_findings f
       where f.run_id = $1::uuid
         and not exists (select 1 from run_ignored r where r.entity = f.entity and r.key = f.key)
       group by f.entity, f.key, f.code""",
    """create temp table run_blocked on commit drop as
       select distinct entity, key from run_findings where severity = 'error'""",
    "create index on run_blocked (entity, key)",
    "create index on run_findings (entity, key, code)",
    "analyze run_findings",
    "analyze run_blocked",
]

# --- the merge (R5): what is valid, not ignored and not held back --------------------------------

_PAYMENT_CONDITIONS_SQL = [
    """create temp table pc_src on commit drop as
       select s.code, nullif(s.description, '') as description, s.term_days::int as term_days,
              md5(concat_ws(chr(31), s.description, s.term_days)) as content_hash,
              p.content_hash as old_hash, p.code is null as is_new
       from (select distinct on (code) * from staged_payment_conditions
             where run_id = $1::uuid order by code, line) s
       left join payment_conditions p on p.administration_id = $2::text and p.code = s.code
       where not exists (select 1 from run_ignored r
                         where r.entity = 'payment_condition' and r.key = s.code)
         and not exists (select 1 from run_blocked b
                         where b.entity = 'payment_condition' and b.key = s.code)""",
    """insert into payment_conditions (administration_id, code, description, term_days,
                                       content_hash)
       select $2, code, description, term_days, content_hash from pc_src
       where is_new or old_hash <> content_hash
       on conflict (administration_id, code) do update set
           description = excluded.description, term_days = excluded.term_days,
           content_hash = excluded.content_hash, updated_at = now()""",
]

# A staged record is `fast` when the loaded one came from the same source text (the hashes
# of migration 0040) and is active (open): it is unchanged, and its loaded values stand in for
# the source's, so nothing is recomputed for it and nothing is written.
_CUSTOMERS_SQL = [
    """create temp table cust_src on commit drop as
       select u.*, case when u.clean then u.staged_source_hash
                        when u.content_hash = u.old_hash then u.old_source_hash end as source_hash
       from (
       select s.customer_number,
              case when k.fast then c.name else s.name end as name,
              case when k.fast then c.email else s.email end as email,
              case when k.fast then c.phone else nullif(s.phone, '') end as phone,
              case when k.fast then c.street else s.street end as street,
              case when k.fast then c.postal_code else s.postal_code end as postal_code,
              case when k.fast then c.city else s.city end as city,
              case when k.fast then c.country
                   else upper(coalesce(nullif(s.country, ''), 'NL')) end as country,
              case when k.fast then c.language else nullif(lower(s.language), '') end as language,
              case when k.fast then c.vat_number else nullif(s.vat_number, '') end as vat_number,
              case when k.fast then c.changed_at else nullif(s.changed_at, '') end as changed_at,
              case when k.fast then c.content_hash
                   else md5(concat_ws(chr(31), s.name, s.email, s.phone, s.street, s.postal_code,
                                      s.city, s.country, s.language, s.vat_number, s.changed_at))
              end as content_hash,
              s.source_hash as staged_source_hash, s.clean, c.source_hash as old_source_hash,
              c.content_hash as old_hash, c.status as old_status,
              c.customer_number is null as is_new
       from (select distinct on (customer_number) * from staged_customers
             where run_id = $1::uuid order by customer_number, line) s
       left join customers c on c.administration_id = $2::text
            and c.customer_number = s.customer_number
       cross join lateral (select coalesce(c.status = 'active'
                                           and c.source_hash = s.source_hash, false) as fast) k
       where not exists (select 1 from run_ignored r
                         where r.entity = 'customer' and r.key = s.customer_number)
         and not exists (select 1 from run_blocked b
                         where b.entity = 'customer' and b.key = s.customer_number)
       ) u""",
    # A row whose loaded data is unchanged but whose source hash changes (loaded before
    # migration 0040, or new rules) gets the hash only: not counted, not announced, no
    # updated_at.
    """insert into customers (administration_id, customer_number, name, email, phone, street,
                            postal_code, city, country, language, vat_number, changed_at,
                            content_hash, source_hash, status, last_run_id)
       select $2, customer_number, name, email, phone, street, postal_code, city, country,
              language, vat_number, changed_at, content_hash, source_hash, 'active', $1
       from cust_src where is_new or old_hash <> content_hash or old_status <> 'active'
                        or source_hash is distinct from old_source_hash
       on conflict (administration_id, customer_number) do update set
           name = excluded.name, email = excluded.email, phone = excluded.phone,
           street = excluded.street, postal_code = excluded.postal_code, city = excluded.city,
           country = excluded.country, language = excluded.language,
           vat_number = excluded.vat_number, changed_at = excluded.changed_at,
           content_hash = excluded.content_hash, source_hash = excluded.source_hash,
           status = 'active',
           updated_at = case when customers.content_hash <> excluded.content_hash
                               or customers.status <> 'active'
                             then now() else customers.updated_at end,
           last_run_id = excluded.last_run_id""",
]

# Invoices of a customer with an error are held back (R5), as are their own errors' invoices.
# Fixed fields keep the values they were first loaded with; src_* hold the source's values.
_INVOICE_SOURCE_SQL = """
create temp table inv_src on commit drop as
-- The loaded row is a clean source's when no fixed field differs: it takes that hash.
-- Otherwise it keeps the hash of the source it came from if its data stays as it is, and has
-- none (matching no source) once its data mixes two sources.
select u.*,
       case when u.clean and u.src_customer_number is not distinct from u.customer_number
             and u.src_invoice_date is not distinct from u.invoice_date
             and u.src_due_date is not distinct from u.due_date
             and u.src_amount_total is not distinct from u.amount_total
             and u.src_payment_condition is not distinct from u.payment_condition
            then u.staged_source_hash
            when u.content_hash = u.old_hash then u.old_source_hash end as source_hash
from (
select t.*,
       case when t.fast then t.old_hash
            else md5(concat_ws(chr(31), t.customer_number, t.invoice_date, t.due_date, t.currency,
                               t.amount_total, t.amount_open, t.payment_condition, t.description))
       end as content_hash
from (
    select s.invoice_number,
           case when k.is_new then s.customer_number else i.customer_number end
               as customer_number,
           case when k.is_new then s.invoice_date::date else i.invoice_date end as invoice_date,
           case when k.is_new then s.due_date::date else i.due_date end as due_date,
           case when k.fast then i.currency else upper(s.currency) end as currency,
           case when k.is_new then s.amount_total::numeric(14, 2) else i.amount_total end
               as amount_total,
           case when k.fast then i.amount_open else s.amount_open::numeric(14, 2) end
               as amount_open,
           case when k.is_new then nullif(s.payment_condition, '') else i.payment_condition end
               as payment_condition,
           case when k.fast then i.description else nullif(s.description, '') end
               as description,
           k.is_new, k.fast, i.status as old_status, i.content_hash as old_hash,
           s.source_hash as staged_source_hash, s.clean, i.source_hash as old_source_hash,
           case when k.fast then i.customer_number else s.customer_number end
               as src_customer_number,
           case when k.fast then i.invoice_date else s.invoice_date::date end
               as src_invoice_date,
           case when k.fast then i.due_date else s.due_date::date end as src_due_date,
           case when k.fast then i.amount_total else s.amount_total::numeric(14, 2) end
               as src_amount_total,
           case when k.fast then i.payment_condition else nullif(s.payment_condition, '') end
               as src_payment_condition
    from (select distinct on (invoice_number) * from staged_invoices
          where run_id = $1::uuid order by invoice_number, line) s
    left join invoices i
         on i.administration_id = $2::text and i.invoice_number = s.invoice_number
    cross join lateral (select i.invoice_number is null as is_new,
                               coalesce(i.status = 'open' and i.source_hash = s.source_hash,
                                        false) as fast) k
    where not exists (select 1 from run_ignored r
                      where r.entity = 'invoice' and r.key = s.invoice_number)
      and not exists (select 1 from run_blocked b
                      where b.entity = 'invoice' and b.key = s.invoice_number)
      and not exists (select 1 from run_blocked b
                      where b.entity = 'customer' and b.key = s.customer_number)
    offset 0  -- computed once: referenced below, each expression would be evaluated again
) t
offset 0
) u
"""

_FIXED_CHANGES_SQL = """
select invoice_number,
       array_remove(array[
           case when src_customer_number is distinct from customer_number
                then 'customer_number' end,
           case when src_invoice_date is distinct from invoice_date then 'invoice_date' end,
           case when src_due_date is distinct from due_date then 'due_date' end,
           case when src_amount_total is distinct from amount_total then 'amount_total' end,
           case when src_payment_condition is distinct from payment_condition
                then 'payment_condition' end
       ], null) as fields,
       jsonb_build_object(
           'customer_number', jsonb_build_array(customer_number, src_customer_number),
           'invoice_date', jsonb_build_array(invoice_date, src_invoice_date),
           'due_date', jsonb_build_array(due_date, src_due_date),
           'amount_total', jsonb_build_array(amount_total::text, src_amount_total::text),
           'payment_condition', jsonb_build_array(payment_condition, src_payment_condition)
       ) as values
from inv_src
where not is_new and (src_customer_number is distinct from customer_number
    or src_invoice_date is distinct from invoice_date or src_due_date is distinct from due_date
    or src_amount_total is distinct from amount_total
    or src_payment_condition is distinct from payment_condition)
"""

# New invoices are inserted, changed ones updated: a plain insert costs less than an upsert's
# speculative one, and nothing else writes an administration's invoices while its run loads
# (one run at a time, its row locked by the load).
_INVOICE_UPSERT_SQL = [
    """insert into invoices (administration_id, invoice_number, customer_number, invoice_date,
                           due_date, currency, amount_total, amount_open, payment_condition,
                           description, content_hash, source_hash, status, last_run_id)
       select $2, invoice_number, customer_number, invoice_date, due_date, currency,
              amount_total, amount_open, payment_condition, description, content_hash,
              source_hash, 'open', $1
       from inv_src where is_new""",
    """update invoices i set currency = s.currency, amount_open = s.amount_open,
           description = s.description, content_hash = s.content_hash,
           source_hash = s.source_hash, status = 'open', closed_at = null,
           updated_at = case when i.content_hash <> s.content_hash or i.status <> 'open'
                             then now() else i.updated_at end,
           last_run_id = $1
       from inv_src s
       where i.administration_id = $2 and i.invoice_number = s.invoice_number
         and not s.is_new and (s.old_hash <> s.content_hash or s.old_status <> 'open'
                               or s.source_hash is distinct from s.old_source_hash)""",
]

# R7: loaded data of an ignored entity is blocked: no more updates, no notifications.
_BLOCK_CUSTOMERS_SQL = """
update customers c set status = 'blocked', updated_at = now()
where c.administration_id = $1 and c.status = 'active'
  and exists (select 1 from ignore_entries e where e.administration_id = $1
              and e.entity = 'customer' and ignore_entry_matches(e, c.customer_number))
returning c.customer_number
"""
_BLOCK_INVOICES_SQL = """
update invoices i set status = 'blocked', updated_at = now()
where i.administration_id = $1 and i.status = 'open'
  and exists (select 1 from ignore_entries e where e.administration_id = $1 and (
         (e.entity = 'invoice' and ignore_entry_matches(e, i.invoice_number))
      or (e.entity = 'customer' and ignore_entry_matches(e, i.customer_number))
      or (e.entity = 'payment_condition' and i.payment_condition is not null
          and ignore_entry_matches(e, i.payment_condition))))
returning i.invoice_number
"""

# R4: an invoice that was open and is absent from a complete run is paid.
_CLOSE_SQL = """
update invoices i set status = 'closed', closed_at = now(), updated_at = now()
where i.administration_id = $2::text and i.status in ('open', 'blocked')
  and not exists (select 1 from staged_invoices s
                  where s.run_id = $1::uuid and s.invoice_number = i.invoice_number)
returning i.invoice_number
"""

# --- the error lifecycle (R6) ------------------------------------------------------------------

_ERROR_ID = "md5(concat_ws(chr(31), {admin}, {entity}, {key}, {code}))::uuid"

# An open error already saying the same is left alone (no write); what is written is either
# raised now (its run_id becomes this run's) or an open error whose wording changed.
_RAISE_SQL = f"""
insert into validation_errors (error_id, administration_id, entity, key, code, field, value,
                               severity, message, status, run_id, raised_at)
select {_ERROR_ID.format(admin="$2::text", entity="f.entity", key="f.key", code="f.code")},
       $2, f.entity, f.key, f.code, f.field, f.value, f.severity, f.message, 'open', $1, now()
from run_findings f
where not exists (select 1 from validation_errors v
                  where v.administration_id = $2::text and v.entity = f.entity
                    and v.key = f.key and v.code = f.code and v.status = 'open'
                    and v.field = f.field and v.value = f.value
                    and v.severity = f.severity and v.message = f.message)
on conflict (administration_id, entity, key, code) do update set
    field = excluded.field, value = excluded.value, severity = excluded.severity,
    message = excluded.message, status = 'open', resolution = null, resolved_at = null,
    run_id = case when validation_errors.status = 'open'
                  then validation_errors.run_id else excluded.run_id end,
    raised_at = case when validation_errors.status = 'open'
                     then validation_errors.raised_at else now() end
returning validation_errors.*
"""
_RESOLVE_SQL = """
update validation_errors v set status = 'resolved', resolved_at = now(), resolution = case
    when exists (select 1 from run_ignored r where r.entity = v.entity and r.key = v.key)
         or ignore_match($2, v.entity, v.key) is not null then 'ignored'
    when (v.entity = 'customer' and exists (select 1 from staged_customers s
              where s.run_id = $1::uuid and s.customer_number = v.key))
      or (v.entity = 'invoice' and exists (select 1 from staged_invoices s
              where s.run_id = $1::uuid and s.invoice_number = v.key))
      or (v.entity = 'payment_condition' and exists (select 1 from staged_payment_conditions s
              where s.run_id = $1::uuid and s.code = v.key)) then 'fixed'
    else 'left_import' end
where v.administration_id = $2::text and v.status = 'open'
  and not exists (select 1 from run_findings f
                  where f.entity = v.entity and f.key = v.key and f.code = v.code)
returning v.*
"""

_BLOCKED_COUNTS_SQL = """
select 'customer' as entity, count(distinct s.customer_number) as n from staged_customers s
where s.run_id = $1::uuid
  and s.customer_number in (select b.key from run_blocked b where b.entity = 'customer')
union all
select 'payment_condition', count(distinct s.code) from staged_payment_conditions s
where s.run_id = $1::uuid
  and s.code in (select b.key from run_blocked b where b.entity = 'payment_condition')
union all
select 'invoice', count(distinct s.invoice_number) from staged_invoices s
where s.run_id = $1::uuid
  and not exists (select 1 from run_ignored r
                  where r.entity = 'invoice' and r.key = s.invoice_number)
  and (s.invoice_number in (select b.key from run_blocked b where b.entity = 'invoice')
       or s.customer_number in (select b.key from run_blocked b where b.entity = 'customer'))
"""

_OUTCOME_SQL = """
select count(*) filter (where is_new) as added,
       count(*) filter (where not is_new and (old_hash <> content_hash {extra})) as updated,
       count(*) filter (where not is_new and not (old_hash <> content_hash {extra})) as unchanged
from {table}
"""

# The run's accepted changes as UpdatesAccepted messages (the shape of shared/messages.py,
# as `encode` writes it) of at most $4 changes each, in the order they were noted, written to
# the outbox in one statement: hundreds of thousands of changes never pass through Python.
_ACCEPTED_UPDATES_SQL = """
insert into outbox (topic, key, payload)
select $1, $2, convert_to(json_build_object(
           'message_id', gen_random_uuid(),
           'administration_id', $2::text,
           'run_id', $3::uuid,
           'changes', json_agg(json_build_object('entity', entity, 'key', key, 'change', change)
                               order by seq),
           'occurred_at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
       )::text, 'UTF8')
from run_changes
group by (seq - 1) / $4
order by (seq - 1) / $4
"""

_CLEANUP_TABLES = (
    "staged_customers",
    "staged_invoices",
    "staged_payment_conditions",
    "staged_findings",
    "run_chunks",
)


class ValidatorStore:
    def __init__(self, pool: asyncpg.Pool, topics: Topics) -> None:
        self._pool = pool
        self._topics = topics

    # --- staging -----------------------------------------------------------------------------

    async def running_runs(self, run_ids: Iterable[UUID]) -> dict[UUID, str]:
        """The runs still running among these, with their administrations."""
        rows = await self._pool.fetch(
            "select run_id, administration_id from import_runs"
            " where run_id = any($1::uuid[]) and status = 'running'",
            list(set(run_ids)),
        )
        return {row["run_id"]: row["administration_id"] for row in rows}

    async def with_loaded_records(self, admins: Iterable[str]) -> set[str]:
        """Those of these administrations with a customer or an invoice loaded."""
        rows = await self._pool.fetch(
            "select a.id from unnest($1::text[]) as a(id)"
            " where exists (select 1 from customers c where c.administration_id = a.id)"
            " or exists (select 1 from invoices i where i.administration_id = a.id)",
            list(set(admins)),
        )
        return {row["id"] for row in rows}

    async def known_clean(
        self, admin: str, wanted: Mapping[str, Mapping[str, str]]
    ) -> set[tuple[str, str, str]]:
        """Which (entity, key, source hash) of `wanted` ({entity: {key: hash}}) are an active
        customer's or open invoice's loaded from that very text, which validation found
        nothing in (migration 0040)."""
        customers, invoices = wanted.get("customer", {}), wanted.get("invoice", {})
        if not customers and not invoices:
            return set()
        # One primary-key probe per key, planned anew each time: a plan cached while the
        # administration had nothing loaded scanned all of its rows per key once it had
        # (tens of seconds per batch), and so did a filter by an array of thousands of keys.
        # Knowing is only a shortcut: should the lookup still take long, everything is
        # validated as if nothing were known.
        try:
            known_customers, known_invoices = await self._probe_loaded(admin, customers, invoices)
        except asyncpg.QueryCanceledError:
            keys = len(customers) + len(invoices)
            log.warning("looking up %d loaded source hashes timed out; validating all", keys)
            return set()
        return {("customer", key, customers[key]) for key in known_customers} | {
            ("invoice", key, invoices[key]) for key in known_invoices
        }

    async def _probe_loaded(
        self, admin: str, customers: Mapping[str, str], invoices: Mapping[str, str]
    ) -> tuple[list[str], list[str]]:
        """The keys of `customers` and `invoices` loaded (and usable) with the given hash,
        compared in SQL and returned as two arrays: no row per record to build in Python."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "set local statement_timeout = '3s';"
                " set local plan_cache_mode = force_custom_plan;"
                " set local enable_seqscan = off; set local enable_bitmapscan = off;"
                " set local enable_hashjoin = off; set local enable_mergejoin = off"
            )
            row = await conn.fetchrow(
                """select
                   array(select k.key from unnest($2::text[], $3::text[]) k(key, hash)
                         cross join lateral (select c.source_hash, c.status from customers c
                                             where c.administration_id = $1
                                               and c.customer_number = k.key limit 1) c
                         where c.source_hash = k.hash and c.status = 'active'),
                   array(select k.key from unnest($4::text[], $5::text[]) k(key, hash)
                         cross join lateral (select i.source_hash, i.status from invoices i
                                             where i.administration_id = $1
                                               and i.invoice_number = k.key limit 1) i
                         where i.source_hash = k.hash and i.status = 'open')""",
                admin,
                list(customers),
                list(customers.values()),
                list(invoices),
                list(invoices.values()),
            )
            return row[0], row[1]

    async def stage_chunks(
        self, chunks: Mapping[tuple[UUID, int], tuple[int, StagedBatch]]
    ) -> set[tuple[UUID, int]]:
        """Stage chunks not staged before, keyed (run, seq); return those staged now.

        A redelivered chunk is recognised by its (run, seq) and staged once only. The runs
        are share-locked first: a run that ended (failed, restarted, loaded) meanwhile gets
        nothing staged, so no rows outlive their run's cleanup.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            running = await conn.fetch(
                "select run_id from import_runs where run_id = any($1::uuid[])"
                " and status = 'running' order by run_id for share",
                list({run_id for run_id, _ in chunks}),
            )
            still = {row["run_id"] for row in running}
            keys = [key for key in chunks if key[0] in still]
            if not keys:
                return set()
            rows = await conn.fetch(
                "insert into run_chunks (run_id, seq, records)"
                " select * from unnest($1::uuid[], $2::int[], $3::int[])"
                " on conflict do nothing returning run_id, seq",
                [k[0] for k in keys],
                [k[1] for k in keys],
                [chunks[k][0] for k in keys],
            )
            new = {(row["run_id"], row["seq"]) for row in rows}
            combined = StagedBatch()
            for key in new:
                combined.extend(chunks[key][1])
            await self._copy(conn, combined)
        return new

    async def _copy(self, conn: asyncpg.Connection, batch: StagedBatch) -> None:
        for entity, table in TABLE.items():
            rows = batch.rows[table]
            if rows:
                extra = ["source_hash", "clean"] if entity in HASHED else []
                await conn.copy_records_to_table(
                    table,
                    records=rows,
                    columns=["run_id", "line", *COLUMNS[entity], "has_error", *extra],
                )
        if batch.findings:
            await conn.copy_records_to_table(
                "staged_findings", records=batch.findings, columns=FINDING_COLUMNS
            )

    async def discard_run(self, run_id: UUID) -> None:
        """Drop what a run that ended without loading had staged."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.fetchval(
                "select status from import_runs where run_id = $1::uuid", run_id
            )
            if status in (None, "running"):
                return
            for table in _CLEANUP_TABLES:
                await conn.execute(f"delete from {table} where run_id = $1::uuid", run_id)

    # --- loading a complete run ----------------------------------------------------------------

    async def finalize(self, run_id: UUID) -> RunOutcome | None:
        """Load the run if every announced chunk is staged; None if it is not (yet) due."""
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock makes a second validator instance wait, then find it completed.
            run = await conn.fetchrow(
                "select * from import_runs where run_id = $1::uuid for update", run_id
            )
            if run is None or run["status"] != "running" or run["chunks"] is None:
                return None
            received = await conn.fetchval(
                "select count(*) from run_chunks where run_id = $1::uuid", run_id
            )
            if received < run["chunks"]:
                return None
            outcome = await self._load(conn, run)
        return outcome

    async def _load(self, conn: asyncpg.Connection, run: asyncpg.Record) -> RunOutcome:
        run_id, admin = run["run_id"], run["administration_id"]
        outcome = RunOutcome(run_id, admin)
        # Every statement below works on whole sets (the run, the administration): hash joins
        # and room for them, whatever stale statistics of the staging tables suggest (and no
        # JIT, which the cost of a refused nested loop would otherwise switch on). Plans are
        # made for this run's sizes, never taken from the cache of an earlier, smaller run.
        await conn.execute(
            "set local work_mem = '256MB'; set local enable_nestloop = off; set local jit = off;"
            " set local plan_cache_mode = force_custom_plan"
        )
        # Read before anything the load consults: a change of the ignore list or the dunning
        # plans from here on counts the version up past it (migration 0050), so this run never
        # stands in for a run after that change.
        inputs_version = await conn.fetchval(
            "select import_inputs_version from administrations where id = $1", admin
        )
        has_entries = await conn.fetchval(
            "select exists (select 1 from ignore_entries where administration_id = $1)", admin
        )
        await _run_all(conn, _IGNORED_SQL if has_entries else _IGNORED_SQL[:1], run_id, admin)
        await _run_all(conn, _UNREFERENCED_SQL, run_id)
        await self._add_cross_record_findings(conn, run_id, admin)
        await _run_all(conn, _FINDINGS_SQL, run_id)
        await _run_all(conn, _PAYMENT_CONDITIONS_SQL, run_id, admin)
        await _run_all(conn, _CUSTOMERS_SQL, run_id, admin)
        await _run_all(conn, [_INVOICE_SOURCE_SQL], run_id, admin)
        await self._add_fixed_field_warnings(conn, admin)
        counts = {
            "payment_condition": await _outcome(conn, "pc_src", ""),
            "customer": await _outcome(conn, "cust_src", "or old_status <> 'active'"),
            "invoice": await _outcome(conn, "inv_src", "or old_status <> 'open'"),
        }
        await self._changes(conn)
        await _run_all(conn, _INVOICE_UPSERT_SQL, run_id, admin)
        # Without entries nothing is ignored, so nothing is to be blocked either.
        if has_entries:
            await conn.execute(_noting_changes(_BLOCK_CUSTOMERS_SQL, "customer", "blocked"), admin)
            await conn.execute(_noting_changes(_BLOCK_INVOICES_SQL, "invoice", "blocked"), admin)
        await conn.execute(_noting_changes(_CLOSE_SQL, "invoice", "closed"), run_id, admin)
        for row in await conn.fetch(_BLOCKED_COUNTS_SQL, run_id):
            counts[row["entity"]]["blocked"] = row["n"]
        for entity in ENTITIES:
            counts[entity]["ignored"] = 0
        for row in await conn.fetch("select entity, count(*) as n from run_ignored group by 1"):
            counts[row["entity"]]["ignored"] = row["n"]
        outcome.counts = counts
        outcome.changes = await conn.fetchval("select count(*) from run_changes")

        events = await self._error_lifecycle(conn, run_id, admin)
        outcome.raised = sum(1 for e in events if e.event == "raised")
        outcome.resolved = len(events) - outcome.raised
        await stage(conn, self._topics.validation_errors, admin, events)
        await conn.execute(
            _ACCEPTED_UPDATES_SQL, self._topics.accepted_updates, admin, run_id, CHANGES_PER_MESSAGE
        )
        await conn.execute(
            "update import_runs set status = 'completed', finished_at = now(), counts = $2,"
            " inputs_version = $3 where run_id = $1::uuid",
            run_id,
            counts,
            inputs_version,
        )
        await stage(
            conn,
            self._topics.import_runs,
            admin,
            [
                ImportRunEvent(
                    event="completed",
                    run_id=run_id,
                    request_id=run["request_id"],
                    administration_id=admin,
                    trigger=run["trigger"],
                    status="completed",
                    counts=counts,
                )
            ],
        )
        for table in _CLEANUP_TABLES:
            await conn.execute(f"delete from {table} where run_id = $1::uuid", run_id)
        return outcome

    async def _add_cross_record_findings(
        self, conn: asyncpg.Connection, run_id: UUID, admin: str
    ) -> None:
        rows = await conn.fetch(_CROSS_RECORD_SQL, run_id, admin)
        findings = []
        for row in rows:
            entity, key, code = row["entity"], row["key"], row["code"]
            context = {"key": key}
            if code == "duplicate_key":
                context["count"] = row["detail"]
            if code == "unknown_customer":
                context["customer_number"] = row["value"]
            message = describe(code, row["field"], row["value"], entity=entity, **context)
            findings.append(
                (
                    run_id,
                    entity,
                    key,
                    code,
                    row["field"],
                    row["value"],
                    CODE_SEVERITY[code],
                    message,
                )
            )
        if findings:
            await conn.copy_records_to_table(
                "staged_findings", records=findings, columns=FINDING_COLUMNS
            )

    async def _add_fixed_field_warnings(self, conn: asyncpg.Connection, admin: str) -> None:
        rows = await conn.fetch(_FIXED_CHANGES_SQL)
        findings = []
        for row in rows:
            fields = list(row["fields"])
            values = row["values"]
            loaded = ", ".join(str(values[f][0]) for f in fields)
            new = ", ".join(str(values[f][1]) for f in fields)
            message = describe(
                "immutable_field_changed",
                ", ".join(fields),
                new,
                entity="invoice",
                key=row["invoice_number"],
                loaded=loaded,
            )
            findings.append(
                (
                    "invoice",
                    row["invoice_number"],
                    "immutable_field_changed",
                    ", ".join(fields),
                    new,
                    "warning",
                    message,
                )
            )
        if findings:
            await conn.executemany(
                "insert into run_findings (entity, key, code, field, value, severity, message)"
                " values ($1, $2, $3, $4, $5, $6, $7)",
                findings,
            )

    async def _changes(self, conn: asyncpg.Connection) -> None:
        """What the merge changes, noted in run_changes (blocking and closing add theirs)."""
        await conn.execute(
            """create temp table run_changes (
                   seq bigserial, entity text, key text, change text
               ) on commit drop;
               insert into run_changes (entity, key, change)
               select 'customer', customer_number,
                      case when is_new then 'added' when old_status <> 'active'
                           and old_hash = content_hash then 'unblocked' else 'updated' end
               from cust_src where is_new or old_hash <> content_hash or old_status <> 'active';
               insert into run_changes (entity, key, change)
               select 'invoice', invoice_number,
                      case when is_new then 'added' when old_status = 'blocked'
                           then 'unblocked' else 'updated' end
               from inv_src where is_new or old_hash <> content_hash or old_status <> 'open'"""
        )

    async def _error_lifecycle(
        self, conn: asyncpg.Connection, run_id: UUID, admin: str
    ) -> list[ValidationErrorEvent]:
        written = await conn.fetch(_RAISE_SQL, run_id, admin)
        raised = [row for row in written if row["run_id"] == run_id]
        resolved = await conn.fetch(_RESOLVE_SQL, run_id, admin)
        events = [_error_event(row, "raised", run_id) for row in raised]
        events += [_error_event(row, "resolved", run_id) for row in resolved]
        return events


def _noting_changes(update_sql: str, entity: str, change: str) -> str:
    """An UPDATE ... RETURNING key whose rows are noted in run_changes as `change`."""
    return (
        f"with changed as ({update_sql}) insert into run_changes (entity, key, change)"
        f" select '{entity}', k, '{change}' from changed as c(k)"
    )


def _error_event(row: asyncpg.Record, event: str, run_id: UUID) -> ValidationErrorEvent:
    return ValidationErrorEvent(
        event=event,  # type: ignore[arg-type]
        error_id=row["error_id"],
        administration_id=row["administration_id"],
        run_id=run_id,
        entity=row["entity"],
        key=row["key"],
        code=row["code"],
        field=row["field"],
        value=row["value"],
        severity=row["severity"],
        message=row["message"],
        resolution=row["resolution"] if event == "resolved" else None,
    )


async def _run_all(conn: asyncpg.Connection, statements: list[str], *args: Any) -> None:
    """Run statements in order; each gets the arguments it refers to ($1 = run, $2 = admin),
    renumbered, since PostgreSQL refuses a parameter a statement does not use."""
    for sql in statements:
        used = sorted({int(n) for n in re.findall(r"\$(\d+)", sql)})
        number = {old: new for new, old in enumerate(used, 1)}

        def renumber(match: re.Match[str], number: dict[int, int] = number) -> str:
            return f"${number[int(match.group(1))]}"

        await conn.execute(re.sub(r"\$(\d+)", renumber, sql), *(args[n - 1] for n in used))


async def _outcome(conn: asyncpg.Connection, table: str, extra: str) -> dict[str, int]:
    row = await conn.fetchrow(_OUTCOME_SQL.format(table=table, extra=extra))
    return {
        "added": row["added"],
        "updated": row["updated"],
        "unchanged": row["unchanged"],
        "blocked": 0,
        "ignored": 0,
    }
