"""The notifier's SQL: what is due (set-based), the facts that may stop it, claims, records.

Due reminders and due invoice e-mails are each selected by one statement over all candidates,
with every fact that may suppress them (pauses, ignore list, blocked and closed status,
amounts). Sending then claims one notification at a time inside a transaction that holds the
administration's sending guard (see 0020_notifier.sql), checks it again and records the
outcome; every record is staged on the notifications topic through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.notifier.logic import Candidate, Day, Ignored, Pause, Plan, Suppression
from shared.messages import ControlEvent, ReminderRunRequested
from shared.outbox import stage, stage_notifications
from shared.topics import Topics

__all__ = ["Admin", "Held", "NotifierStore", "Record"]


@dataclass(frozen=True, slots=True)
class Admin:
    id: str
    name: str
    timezone: str
    holiday_country: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Held:
    """What a reminder run recorded as held back without it coming to Python."""

    by_kind: dict[str, int]  # reminders and final notices held back, whether new or not
    recorded: int  # newly recorded (a cause met again by a later run is recorded once)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


@dataclass(frozen=True, slots=True)
class Record:
    """One outcome to write: a candidate and, when suppressed or failed, why."""

    candidate: Candidate
    run_date: date
    message_id: str
    request_id: UUID | None = None
    suppression: Suppression | None = None


# The facts that may stop a notification, for every row of a `candidates` relation with
# administration_id, invoice_number, customer_number, payment_condition and today (the local
# date that decides whether a pause with an end date still stands). One standing pause per
# entity (pauses_standing), so each pause join finds at most one.
_PAUSE_JOIN = """
left join pauses {alias}
       on {alias}.administration_id = n.administration_id and {alias}.entity = '{entity}'
      and {alias}.key = {key} and {alias}.lifted_at is null
      and ({alias}.until is null or {alias}.until >= n.today)"""
_PAUSE_COLUMN = """
           case when {alias}.id is not null then jsonb_build_object(
               'id', {alias}.id, 'entity', {alias}.entity, 'key', {alias}.key,
               'mode', {alias}.mode, 'reason', {alias}.reason, 'until', {alias}.until) end"""
_PAUSES = (
    ("pa", "administration", "n.administration_id"),
    ("pc", "customer", "n.customer_number"),
    ("pk", "case", "ci.case_key"),
    ("pi", "invoice", "n.invoice_number"),
)
_FACTS = (
    """
select n.*,
       c.name as customer_name, c.email, c.language, c.status as customer_status,
       ig.entity as ignored_entity, ig.pattern as ignored_pattern,
       -- the pauses that cover it, in one column: most rows have none
       array_remove(array["""
    + ",".join(_PAUSE_COLUMN.format(alias=a) for a, _, _ in _PAUSES)
    + """], null) as pauses
from candidates n
left join customers c
       on c.administration_id = n.administration_id and c.customer_number = n.customer_number
left join case_invoices ci
       on ci.administration_id = n.administration_id and ci.invoice_number = n.invoice_number"""
    + "".join(_PAUSE_JOIN.format(alias=a, entity=e, key=k) for a, e, k in _PAUSES)
    + """
left join lateral (
    -- R7: the invoice itself, its customer or its payment condition on the ignore list.
    -- Decided once per statement: with no entry at all, nothing is looked up per row.
    select first.* from (
        select e.entity, e.pattern from ignore_entries e
        where e.administration_id = n.administration_id
          and ((e.entity = 'invoice' and ignore_entry_matches(e, n.invoice_number))
            or (e.entity = 'customer' and ignore_entry_matches(e, n.customer_number))
            or (e.entity = 'payment_condition' and coalesce(n.payment_condition, '') <> ''
                and ignore_entry_matches(e, n.payment_condition)))
        order by e.entity = 'invoice' desc, e.entity = 'customer' desc, e.id
        limit 1
    ) first
    where exists (select from ignore_entries)
) ig on true
"""
)

# R9: the next level of every open invoice of one administration that is due as of $3: by the
# plan (days after the due date) and by the interval since the previous reminder sent.
# Blocked invoices are selected too, so that their suppression is recorded and explained.
# `{some}` narrows it to the invoices in $4 (a statement of its own, so that its plan uses
# the primary key).
# `admin` is one row, materialized: inlined, it was joined to each invoice by an index scan of
# its own (0.1 s of a 159,000-reminder run).
_DUE_REMINDER_CANDIDATES = """
with admin as materialized (
    select a.id, a.name as administration_name, a.minimum_amount,
           ($2::timestamptz at time zone a.timezone)::date as today
    from administrations a where a.id = $1::text
),
sent as (
    select invoice_number, max(level) as level, max(run_date) as last_on
    from notifications
    where administration_id = $1::text and kind in ('reminder', 'final_notice')
      and status = 'sent' {some}
    group by invoice_number
),
nxt as (
    select i.administration_id, i.invoice_number, i.customer_number, i.payment_condition,
           i.invoice_date, i.due_date, i.currency, i.amount_total, i.amount_open,
           i.description, i.status as invoice_status,
           coalesce(s.level, 0) + 1 as level, s.last_on,
           coalesce(own.first_after_days, dflt.first_after_days) as first_after_days,
           coalesce(own.interval_days, dflt.interval_days) as interval_days,
           coalesce(own.reminder_count, dflt.reminder_count) as reminder_count,
           coalesce(own.final_notice, dflt.final_notice) as final_notice
    from invoices i
    left join sent s on s.invoice_number = i.invoice_number
    left join dunning_plans own
           on own.administration_id = i.administration_id
          and own.condition_code = i.payment_condition
    left join dunning_plans dflt
           on dflt.administration_id = i.administration_id and dflt.condition_code = 'default'
    where i.administration_id = $1::text and i.status in ('open', 'blocked')
      and i.amount_open > 0 {some_i}
),
candidates as (
    select n.*, admin.administration_name, admin.minimum_amount, admin.today,
           case when n.level <= n.reminder_count then 'reminder' else 'final_notice' end as kind
    from nxt n cross join admin
    where n.level <= n.reminder_count + n.final_notice::int
      and $3::date >= n.due_date + n.first_after_days + (n.level - 1) * n.interval_days
      and (n.last_on is null or $3::date >= n.last_on + n.interval_days)
)
"""
_DUE_REMINDERS = _DUE_REMINDER_CANDIDATES + _FACTS + " order by n.invoice_number"
_DUE_REMINDERS_ALL = _DUE_REMINDERS.format(some="", some_i="")
_DUE_REMINDERS_SOME = _DUE_REMINDERS.format(
    some="and invoice_number = any($4::text[])", some_i="and i.invoice_number = any($4::text[])"
)

# Invoice e-mails whose grace period has passed and that were neither sent nor settled;
# `{where}` picks all of them (up to a limit) or those of given invoices.
_DUE_INVOICE_MAILS = (
    """
with candidates as (
    select i.administration_id, i.invoice_number, i.customer_number, i.payment_condition,
           i.invoice_date, i.due_date, i.currency, i.amount_total, i.amount_open,
           i.description, i.status as invoice_status,
           0 as level, 'invoice' as kind, m.send_after,
           a.name as administration_name, a.minimum_amount, a.timezone, a.holiday_country,
           ($1::timestamptz at time zone a.timezone)::date as today
    from invoice_mails m
    join administrations a on a.id = m.administration_id
    join invoices i
      on i.administration_id = m.administration_id and i.invoice_number = m.invoice_number
    where m.settled_at is null and m.send_after <= $1::timestamptz {where}
      and not exists (select 1 from notifications n
                      where n.administration_id = m.administration_id
                        and n.invoice_number = m.invoice_number
                        and n.kind = 'invoice' and n.status = 'sent')
    order by m.send_after, m.administration_id, m.invoice_number
    {limit}
)
"""
    + _FACTS
)
_DUE_INVOICE_MAILS_ALL = _DUE_INVOICE_MAILS.format(where="", limit="limit $2")
_DUE_INVOICE_MAILS_SOME = _DUE_INVOICE_MAILS.format(
    where="and m.administration_id = $2::text and m.invoice_number = any($3::text[])", limit=""
)

_RECORD_COLUMNS = """administration_id, invoice_number, customer_number, kind, level, status,
    reason, detail, pause_id, run_date, request_id, email_message_id"""

# Stages the events of the rows of `recorded` (new notifications): one outbox row per
# administration naming them, from which the relay builds each NotificationRecorded as it
# publishes it (shared.outbox, SQL `notification_events`).
_STAGE_RECORDED = """
staged as (
    insert into outbox (topic, key, notification_ids)
    select {topic}::text, administration_id, array_agg(id order by id)
    from recorded group by administration_id
)"""

# A suppression is recorded once per cause, however many runs meet it again.
_SUPPRESSED_ONCE = """
    on conflict (administration_id, invoice_number, kind, level, reason, (coalesce(pause_id, 0)))
       where status = 'suppressed' do nothing"""

# Suppressions, each cause once, and the event of each new one staged in the outbox in the
# same statement (their order among themselves means nothing: each is another invoice, kind,
# level or cause).
_RECORD_SUPPRESSIONS = f"""
with recorded as (
    insert into notifications ({_RECORD_COLUMNS})
    select a, i, c, k, l, 'suppressed', r, d, p, rd, q, m
    from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[],
                $7::text[], $8::bigint[], $9::date[], $10::uuid[], $11::text[])
         as t(a, i, c, k, l, r, d, p, rd, q, m){_SUPPRESSED_ONCE}
    returning id, administration_id
),{_STAGE_RECORDED.format(topic="$12")}
select count(*) from recorded
"""

# What Python's str.strip() takes away (str.isspace): an address of only these is none. A
# unit test checks the list against Python's.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

# R8, R9 in one statement for a whole reminder run. Every due reminder is selected with its
# facts (as `due_reminders` selects them), and those that `logic.suppression_for` would hold
# back for a reason that needs no work per reminder (blocked, paused, below the minimum, no
# address, not a sending day) are decided here, recorded and staged with their events, without
# coming to Python. $4 says whether the run's day is a sending day ($5, $6: its reason and
# detail), decided once in Python by `sending_day`. The rest comes back: the reminders that
# may be sent, and the rare ones held back by an ignore entry that Python's repr() would not
# simply put in quotes (a quote, a backslash, a character beyond printable ASCII). The first
# row carries the counts, and no candidate when none comes back. A test compares every
# decision with `suppression_for`.
_HOLD_DUE_REMINDERS = (
    _DUE_REMINDER_CANDIDATES.format(some="", some_i="")
    + ",\nfacts as ("
    + _FACTS
    + r"""),
decided as (
    select f.*, case
        when f.invoice_status = 'closed' then null
        when f.ignored_entity is not null then
            case when f.ignored_pattern ~ '^[ -&(-\[\]-~]*$' then 'ignored' end
        when f.invoice_status = 'blocked' or f.customer_status = 'blocked' then 'blocked'
        -- every pause covers reminders; the broadest comes first
        when cardinality(f.pauses) > 0 then 'paused'
        when f.amount_open < f.minimum_amount then 'below_minimum'
        when f.email is null or f.email ~ '^["""
    + "".join(f"\\u{ord(ch):04x}" for ch in PYTHON_WHITESPACE)
    + r"""]*$' then 'no_email'
        when not $4::boolean then $5::text
    end as held_for
    from facts f
),
recorded as (
    insert into notifications ("""
    + _RECORD_COLUMNS
    + """)
    select h.administration_id, h.invoice_number, h.customer_number, h.kind, h.level,
           'suppressed', h.held_for, h.detail,
           case h.held_for when 'paused' then (h.pauses[1]->>'id')::bigint end, $3::date, $7::uuid,
           -- logic.email_message_id
           '<creditflow.' || h.kind || '.' || h.level || '.'
           || left(encode(sha256(convert_to(concat_ws(chr(31), h.administration_id,
                  h.invoice_number, h.kind, h.level::text), 'UTF8')), 'hex'), 32)
           || '@' || $8::text || '>'
    from (
        select d.*, case d.held_for
            when 'ignored' then replace(d.ignored_entity, '_', ' ')
                 || ' on the ignore list (entry ''' || d.ignored_pattern || ''')'
            when 'blocked' then case when d.invoice_status = 'blocked'
                                     then 'invoice ' || d.invoice_number
                                     else 'customer ' || d.customer_number end
                 || ' is blocked (ignored data is not updated)'
            when 'paused' then
                 case when d.pauses[1]->>'entity' = 'administration' then 'administration'
                      else (d.pauses[1]->>'entity') || ' ' || (d.pauses[1]->>'key') end
                 || case when d.pauses[1]->>'mode' = 'reminders' then ' reminders paused'
                         else ' paused' end
                 || coalesce(' until ' || nullif(d.pauses[1]->>'until', ''), '')
                 || coalesce(' (' || nullif(d.pauses[1]->>'reason', '') || ')', '')
            when 'below_minimum' then 'open amount ' || d.amount_open
                 || ' is below the minimum of ' || d.minimum_amount
            when 'no_email' then 'customer ' || d.customer_number || ' has no e-mail address'
            else $6::text
        end as detail
        from decided d where d.held_for is not null
    ) h"""
    + _SUPPRESSED_ONCE
    + """
    returning id, administration_id
),"""
    + _STAGE_RECORDED.format(topic="$9")
    + """
select t.*, d.*
from (select count(*) filter (where kind = 'reminder') as held_reminders,
             count(*) filter (where kind = 'final_notice') as held_final_notices,
             (select count(*) from recorded) as held_recorded
      from decided where held_for is not null) t
left join decided d on d.held_for is null
order by d.invoice_number
"""
)


def candidate_from(row: asyncpg.Record) -> Candidate:
    ignored = (
        Ignored(row["ignored_entity"], row["ignored_pattern"]) if row["ignored_entity"] else None
    )
    pauses = (
        tuple(
            Pause(
                id=p["id"],
                entity=p["entity"],
                key=p["key"],
                mode=p["mode"],
                reason=p["reason"],
                until=date.fromisoformat(p["until"]) if p["until"] else None,
            )
            for p in row["pauses"]
        )
        if row["pauses"]
        else ()
    )
    return Candidate(
        administration_id=row["administration_id"],
        invoice_number=row["invoice_number"],
        customer_number=row["customer_number"],
        kind=row["kind"],
        level=row["level"],
        invoice_status=row["invoice_status"],
        customer_status=row["customer_status"],
        email=row["email"],
        amount_open=row["amount_open"],
        minimum_amount=row["minimum_amount"],
        ignored=ignored,
        pauses=pauses,
        data=row,
    )


class NotifierStore:
    def __init__(self, pool: asyncpg.Pool, topics: Topics) -> None:
        self._pool = pool
        self._topics = topics

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    # --- administrations -----------------------------------------------------------------

    async def administration(self, admin_id: str) -> Admin | None:
        row = await self._pool.fetchrow(
            "select id, name, timezone, holiday_country, created_at from administrations"
            " where id = $1",
            admin_id,
        )
        return Admin(**dict(row)) if row else None

    async def administrations(self) -> list[Admin]:
        rows = await self._pool.fetch(
            "select id, name, timezone, holiday_country, created_at from administrations"
            " order by id"
        )
        return [Admin(**dict(row)) for row in rows]

    # --- invoice e-mails -----------------------------------------------------------------

    async def schedule_invoice_mails(
        self, admin_id: str, invoice_numbers: Sequence[str], send_after: datetime
    ) -> int:
        """R9: a newly accepted invoice dated on or after the administration's start date
        (unset: none) owes one e-mail after the grace period. Credit notes get none."""
        if not invoice_numbers:
            return 0
        result = await self._pool.execute(
            "insert into invoice_mails (administration_id, invoice_number, send_after)"
            " select i.administration_id, i.invoice_number, $3"
            " from invoices i join administrations a on a.id = i.administration_id"
            " where i.administration_id = $1 and i.invoice_number = any($2::text[])"
            " and a.send_invoices_from is not null and i.invoice_date >= a.send_invoices_from"
            " and i.amount_open > 0"
            " on conflict do nothing",
            admin_id,
            list(invoice_numbers),
            send_after,
        )
        return int(result.split()[-1])

    async def due_invoice_mails(
        self,
        now: datetime,
        *,
        admin_id: str | None = None,
        invoices: Sequence[str] | None = None,
        limit: int = 500,
        conn: asyncpg.Connection | None = None,
    ) -> list[Candidate]:
        if invoices:
            assert admin_id is not None, "invoices are named within one administration"
            rows = await (conn or self._pool).fetch(
                _DUE_INVOICE_MAILS_SOME, now, admin_id, list(invoices)
            )
        else:
            rows = await (conn or self._pool).fetch(_DUE_INVOICE_MAILS_ALL, now, limit)
        return [candidate_from(row) for row in rows]

    async def next_invoice_mail_at(self) -> datetime | None:
        value: datetime | None = await self._pool.fetchval(
            "select min(send_after) from invoice_mails where settled_at is null"
        )
        return value

    async def settle_invoice_mails(
        self, conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
    ) -> None:
        if keys:
            await conn.execute(
                "update invoice_mails m set settled_at = now()"
                " from unnest($1::text[], $2::text[]) as k(a, i)"
                " where m.administration_id = k.a and m.invoice_number = k.i"
                " and m.settled_at is null",
                [a for a, _ in keys],
                [i for _, i in keys],
            )

    async def postpone_invoice_mail(
        self, conn: asyncpg.Connection, admin_id: str, invoice: str, until: datetime
    ) -> None:
        await conn.execute(
            "update invoice_mails set send_after = $3"
            " where administration_id = $1 and invoice_number = $2",
            admin_id,
            invoice,
            until,
        )

    # --- reminders -----------------------------------------------------------------------

    async def due_reminders(
        self,
        admin_id: str,
        *,
        as_of: date,
        now: datetime,
        invoices: Sequence[str] | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> list[Candidate]:
        if invoices:
            rows = await (conn or self._pool).fetch(
                _DUE_REMINDERS_SOME, admin_id, now, as_of, list(invoices)
            )
        else:
            rows = await (conn or self._pool).fetch(_DUE_REMINDERS_ALL, admin_id, now, as_of)
        return [candidate_from(row) for row in rows]

    async def hold_due_reminders(
        self,
        admin_id: str,
        *,
        as_of: date,
        now: datetime,
        day: Day,
        request_id: UUID,
        domain: str,
    ) -> tuple[Held, list[Candidate]]:
        """Select a run's due reminders, and record (with their events) in the same statement
        those held back for a reason that needs no work per reminder; return what was held
        and the candidates left for Python: those that may be sent, and a few rare ones only
        Python can word (see _HOLD_DUE_REMINDERS)."""
        async with self._pool.acquire() as conn, conn.transaction():
            # The plan and interval filters are estimated to keep a few percent of the
            # invoices where they keep most (6,700 rows for 159,000), so the planner joins by
            # nested loops (or merge joins over sorts): hash joins instead, and no JIT, which
            # the costs of the disabled joins would switch on (2 s to compile).
            await conn.execute(
                "set local enable_nestloop = off; set local enable_mergejoin = off;"
                " set local work_mem = '64MB'; set local jit = off"
            )
            rows = await conn.fetch(
                _HOLD_DUE_REMINDERS,
                admin_id,
                now,
                as_of,
                day.sending,
                day.reason,
                day.detail,
                request_id,
                domain,
                self._topics.notifications,
            )
        first = rows[0]
        held = Held(
            {"reminder": first["held_reminders"], "final_notice": first["held_final_notices"]},
            recorded=first["held_recorded"],
        )
        return held, [candidate_from(row) for row in rows if row["invoice_number"] is not None]

    async def plan_for(self, admin_id: str, condition: str | None) -> Plan | None:
        row = await self._pool.fetchrow(
            "select first_after_days, interval_days, reminder_count, final_notice"
            " from dunning_plans where administration_id = $1"
            " and condition_code in (coalesce($2, ''), 'default')"
            " order by condition_code = 'default' limit 1",
            admin_id,
            condition,
        )
        return Plan(**dict(row)) if row else None

    # --- records -------------------------------------------------------------------------

    async def record_suppressions(
        self,
        records: Sequence[Record],
        conn: asyncpg.Connection | None = None,
        *,
        recheck_at: datetime | None = None,
    ) -> int:
        """Write suppressions set-based (each cause once) and stage the new ones as events.

        An invoice e-mail of a closed invoice is settled; any other suppressed invoice e-mail
        stays owed and is looked at again from `recheck_at` (after a resume, say), so that
        those waiting never crowd out the ones that can go."""
        if not records:
            return 0
        if conn is None:
            async with self._pool.acquire() as own, own.transaction():
                return await self.record_suppressions(records, own, recheck_at=recheck_at)
        columns: list[list[Any]] = [[] for _ in range(11)]
        for r in records:
            c, s = r.candidate, r.suppression
            assert s is not None
            values = (
                c.administration_id,
                c.invoice_number,
                c.customer_number,
                c.kind,
                c.level,
                s.reason,
                s.detail,
                s.pause.id if s.pause else None,
                r.run_date,
                r.request_id,
                r.message_id,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        new: int = await conn.fetchval(_RECORD_SUPPRESSIONS, *columns, self._topics.notifications)
        mails = [
            (r.candidate.key, r.suppression.reason)
            for r in records
            if r.candidate.kind == "invoice" and r.suppression is not None
        ]
        closed = [key for key, reason in mails if reason == "closed"]
        waiting = [key for key, reason in mails if reason != "closed"]
        await self.settle_invoice_mails(conn, closed)
        if recheck_at is not None and waiting:
            await conn.execute(
                "update invoice_mails m set send_after = $3"
                " from unnest($1::text[], $2::text[]) as k(a, i)"
                " where m.administration_id = k.a and m.invoice_number = k.i"
                " and m.settled_at is null",
                [a for a, _ in waiting],
                [i for _, i in waiting],
                recheck_at,
            )
        return new

    async def claim(self, conn: asyncpg.Connection, record: Record) -> int | None:
        """Claim (invoice, kind, level) for sending; None when it was already sent. Another
        sender's claim in flight makes this wait for its outcome."""
        c = record.candidate
        claim_id: int | None = await conn.fetchval(
            f"insert into notifications ({_RECORD_COLUMNS})"
            " values ($1, $2, $3, $4, $5, 'claimed', null, null, null, $6, $7, $8)"
            " on conflict (administration_id, invoice_number, kind, level)"
            " where status in ('claimed', 'sent') do nothing returning id",
            c.administration_id,
            c.invoice_number,
            c.customer_number,
            c.kind,
            c.level,
            record.run_date,
            record.request_id,
            record.message_id,
        )
        return claim_id

    async def mark_sent(self, conn: asyncpg.Connection, claim_id: int, recipient: str) -> None:
        row = await conn.fetchrow(
            "update notifications set status = 'sent', sent_at = now(), recipient = $2"
            " where id = $1 returning administration_id, invoice_number, kind",
            claim_id,
            recipient,
        )
        if row["kind"] == "invoice":
            await self.settle_invoice_mails(
                conn, [(row["administration_id"], row["invoice_number"])]
            )
        await self._stage(conn, row["administration_id"], claim_id)

    async def mark_failed(
        self, conn: asyncpg.Connection, claim_id: int, recipient: str, detail: str
    ) -> None:
        """The mail server refused this message for good: record it, and free the claim so
        that a later run tries again (after the address was corrected, say)."""
        row = await conn.fetchrow(
            "update notifications set status = 'failed', reason = 'smtp_refused', detail = $3,"
            " recipient = $2 where id = $1 returning administration_id",
            claim_id,
            recipient,
            detail[:1000],
        )
        await self._stage(conn, row["administration_id"], claim_id)

    async def _stage(self, conn: asyncpg.Connection, admin_id: str, notification_id: int) -> None:
        await stage_notifications(conn, self._topics.notifications, admin_id, [notification_id])

    # --- reminder runs and the daily schedule --------------------------------------------

    async def start_run(self, request: ReminderRunRequested) -> None:
        await self._pool.execute(
            "insert into reminder_runs (request_id, administration_id, as_of, requested_by,"
            " status) values ($1, $2, $3, $4, 'running')"
            " on conflict (request_id) do update set status = 'running', started_at = now(),"
            " finished_at = null",
            request.request_id,
            request.administration_id,
            request.as_of,
            request.requested_by,
        )

    async def finish_run(
        self, request_id: UUID, *, status: str, counts: dict[str, int], reason: str | None = None
    ) -> None:
        await self._pool.execute(
            "update reminder_runs set status = $2, finished_at = now(), counts = $3, reason = $4"
            " where request_id = $1",
            request_id,
            status,
            counts,
            reason,
        )

    async def claim_daily_run(
        self, admin_id: str, moment: datetime, request: ReminderRunRequested
    ) -> bool:
        """The daily run fires once: the first notifier to claim the moment publishes the
        request, through the outbox, in the same transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetchval(
                "insert into reminder_schedule_claims (administration_id, moment)"
                " values ($1, $2) on conflict do nothing returning true",
                admin_id,
                moment,
            )
            if claimed:
                await stage(conn, self._topics.reminder_requests, admin_id, [request])
            return bool(claimed)

    async def end_expired_pauses(self, now: datetime) -> list[asyncpg.Record]:
        """A pause whose last day has passed (in its administration's time zone) ends by
        itself; this marks it so, for lists and for consumers of the control topic."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "update pauses p set lifted_at = now(), lifted_by = 'until'"
                " from administrations a where a.id = p.administration_id"
                " and p.lifted_at is null"
                " and p.until < ($1::timestamptz at time zone a.timezone)::date"
                " returning p.*",
                now,
            )
            for row in rows:
                await stage(
                    conn,
                    self._topics.control,
                    row["administration_id"],
                    [
                        ControlEvent(
                            administration_id=row["administration_id"],
                            command="pause_lifted",
                            detail={
                                "id": row["id"],
                                "entity": row["entity"],
                                "key": row["key"],
                                "mode": row["mode"],
                                "until": row["until"].isoformat(),
                                "ended": True,
                            },
                            issued_by="notifier",
                        )
                    ],
                )
        return list(rows)
