"""The importer's SQL: admitting requests (R2), the run log, schedule claims and recovery.

Every change to a run's status is written together with its `import-runs` event in the
outbox, in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

import asyncpg

from services.importer.unchanged import carried_counts
from shared.messages import ImportRequested, ImportRunEvent, RunEventKind, RunStatus
from shared.outbox import stage
from shared.topics import Topics

__all__ = ["Admission", "ImportStore", "Run"]


@dataclass(frozen=True, slots=True)
class Run:
    run_id: UUID
    request_id: UUID | None
    administration_id: str
    trigger: str
    source: str


@dataclass(frozen=True, slots=True)
class Admission:
    outcome: Literal["started", "queued", "collapsed", "duplicate", "unknown_administration"]
    run: Run | None = None


class ImportStore:
    def __init__(self, pool: asyncpg.Pool, topics: Topics) -> None:
        self._pool = pool
        self._topics = topics

    async def _event(self, conn: asyncpg.Connection, event: ImportRunEvent) -> None:
        await stage(conn, self._topics.import_runs, event.administration_id, [event])

    async def _lock_slot(self, conn: asyncpg.Connection, administration_id: str) -> None:
        await conn.execute(
            "insert into import_slots (administration_id) values ($1) on conflict do nothing",
            administration_id,
        )
        await conn.execute(
            "select 1 from import_slots where administration_id = $1 for update",
            administration_id,
        )

    async def _start_run(
        self,
        conn: asyncpg.Connection,
        *,
        administration_id: str,
        source: str,
        request_id: UUID | None,
        trigger: str,
        requested_by: str | None,
    ) -> Run:
        run = Run(uuid4(), request_id, administration_id, trigger, source)
        await conn.execute(
            "insert into import_runs (run_id, request_id, administration_id, trigger,"
            " requested_by, status) values ($1, $2, $3, $4, $5, 'running')",
            run.run_id,
            request_id,
            administration_id,
            trigger,
            requested_by,
        )
        await conn.execute(
            "update import_slots set active_run_id = $2 where administration_id = $1",
            administration_id,
            run.run_id,
        )
        await self._event(conn, _run_event(run, "started", "running"))
        return run

    async def admit(self, request: ImportRequested) -> Admission:
        """R2: start a run now, or remember one follow-up if a run is active.

        Requests arriving during a run collapse into one follow-up. A request arriving after a
        run ended but before its follow-up started starts that follow-up now and collapses
        into it, so it never adds a second one.
        """
        admin_id = request.administration_id
        async with self._pool.acquire() as conn, conn.transaction():
            logged = await conn.fetchval(
                "insert into import_requests (request_id, administration_id, trigger,"
                " requested_by, requested_at, outcome) values ($1, $2, $3, $4, $5, 'started')"
                " on conflict do nothing returning true",
                request.request_id,
                admin_id,
                request.trigger,
                request.requested_by,
                request.requested_at,
            )
            if not logged:
                return Admission("duplicate")  # a redelivered request: already handled
            admin = await conn.fetchrow(
                "select id, source from administrations where id = $1", admin_id
            )
            if admin is None:
                await self._refuse_unknown(conn, request)
                return Admission("unknown_administration")
            await self._lock_slot(conn, admin_id)
            active = await conn.fetchval(
                "select run_id from import_runs where administration_id = $1"
                " and status = 'running' limit 1",
                admin_id,
            )
            queued = await conn.fetchrow(
                "select follow_up_request_id, follow_up_trigger, follow_up_requested_by"
                " from import_slots where administration_id = $1 and follow_up_trigger is not null",
                admin_id,
            )
            if active is not None and queued is None:
                await conn.execute(
                    "update import_slots set follow_up_request_id = $2, follow_up_trigger = $3,"
                    " follow_up_requested_by = $4 where administration_id = $1",
                    admin_id,
                    request.request_id,
                    request.trigger,
                    request.requested_by,
                )
                await self._log_outcome(conn, request.request_id, "queued")
                return Admission("queued")
            if queued is not None:
                await conn.execute(
                    "update import_requests set outcome = 'collapsed', follows_request_id = $2"
                    " where request_id = $1",
                    request.request_id,
                    queued["follow_up_request_id"],
                )
                if active is not None:
                    return Admission("collapsed")
                await self._clear_follow_up(conn, admin_id)
                run = await self._start_run(
                    conn,
                    administration_id=admin_id,
                    source=admin["source"],
                    request_id=queued["follow_up_request_id"],
                    trigger=queued["follow_up_trigger"],
                    requested_by=queued["follow_up_requested_by"],
                )
                return Admission("collapsed", run)
            run = await self._start_run(
                conn,
                administration_id=admin_id,
                source=admin["source"],
                request_id=request.request_id,
                trigger=request.trigger,
                requested_by=request.requested_by,
            )
            return Admission("started", run)

    async def _refuse_unknown(self, conn: asyncpg.Connection, request: ImportRequested) -> None:
        """A request for an administration that does not exist is logged as a failed run."""
        run_id = uuid4()
        admin_id = request.administration_id
        reason = f"unknown administration {admin_id!r}"
        await conn.execute(
            "insert into import_runs (run_id, request_id, administration_id, trigger,"
            " requested_by, status, finished_at, reason)"
            " values ($1, $2, $3, $4, $5, 'failed', now(), $6)",
            run_id,
            request.request_id,
            admin_id,
            request.trigger,
            request.requested_by,
            reason,
        )
        await self._event(
            conn,
            ImportRunEvent(
                event="failed",
                run_id=run_id,
                request_id=request.request_id,
                administration_id=admin_id,
                trigger=request.trigger,
                status="failed",
                reason=reason,
            ),
        )
        await self._log_outcome(conn, request.request_id, "unknown_administration")

    async def _log_outcome(self, conn: asyncpg.Connection, request_id: UUID, outcome: str) -> None:
        await conn.execute(
            "update import_requests set outcome = $2 where request_id = $1", request_id, outcome
        )

    async def _clear_follow_up(self, conn: asyncpg.Connection, administration_id: str) -> None:
        await conn.execute(
            "update import_slots set follow_up_request_id = null, follow_up_trigger = null,"
            " follow_up_requested_by = null where administration_id = $1",
            administration_id,
        )

    async def start_follow_up(self, administration_id: str) -> Run | None:
        """Start the remembered follow-up once no run of the administration is active."""
        async with self._pool.acquire() as conn, conn.transaction():
            slot = await conn.fetchrow(
                "select s.follow_up_request_id, s.follow_up_trigger, s.follow_up_requested_by,"
                " a.source from import_slots s join administrations a on a.id = s.administration_id"
                " where s.administration_id = $1 for update of s",
                administration_id,
            )
            if slot is None or slot["follow_up_trigger"] is None:
                return None
            active = await conn.fetchval(
                "select true from import_runs where administration_id = $1"
                " and status = 'running' limit 1",
                administration_id,
            )
            if active:
                return None
            await self._clear_follow_up(conn, administration_id)
            return await self._start_run(
                conn,
                administration_id=administration_id,
                source=slot["source"],
                request_id=slot["follow_up_request_id"],
                trigger=slot["follow_up_trigger"],
                requested_by=slot["follow_up_requested_by"],
            )

    async def administrations_waiting_for_follow_up(self) -> list[str]:
        rows = await self._pool.fetch(
            "select s.administration_id from import_slots s where s.follow_up_trigger is not null"
            " and not exists (select 1 from import_runs r"
            " where r.administration_id = s.administration_id and r.status = 'running')"
        )
        return [row["administration_id"] for row in rows]

    async def complete_unchanged(
        self, run: Run, *, export_hash: str, pipeline_fingerprint: str
    ) -> UUID | None:
        """Complete the run at once if it would load nothing: the administration's latest
        completed run loaded this very export, with this code, and its ignore list and dunning
        plans have not changed since. Returns that run's id, or None (the run goes on)."""
        async with self._pool.acquire() as conn, conn.transaction():
            last = await conn.fetchrow(
                "select r.run_id, r.counts, r.records from import_runs r"
                " join administrations a on a.id = r.administration_id"
                " where r.administration_id = $1 and r.status = 'completed'"
                " and r.export_hash = $2 and r.pipeline_fingerprint = $3"
                " and r.inputs_version = a.import_inputs_version"
                " and r.run_id = (select l.run_id from import_runs l"
                "                 where l.administration_id = $1 and l.status = 'completed'"
                "                 order by l.finished_at desc limit 1)",
                run.administration_id,
                export_hash,
                pipeline_fingerprint,
            )
            if last is None:
                return None
            counts = carried_counts(last["counts"])
            reason = f"the export is unchanged since run {last['run_id']}: nothing to load"
            completed = await conn.fetchval(
                "update import_runs r set status = 'completed', read_at = now(),"
                " finished_at = now(), chunks = 0, records = $2, counts = $3, reason = $4,"
                " export_hash = $5, pipeline_fingerprint = $6,"
                " inputs_version = a.import_inputs_version"
                " from administrations a where a.id = r.administration_id"
                " and r.run_id = $1 and r.status = 'running' returning true",
                run.run_id,
                last["records"],
                counts,
                reason,
                export_hash,
                pipeline_fingerprint,
            )
            if not completed:
                return None
            await self._event(
                conn, _run_event(run, "completed", "completed", counts=counts, reason=reason)
            )
            return UUID(str(last["run_id"]))

    async def mark_read(
        self,
        run: Run,
        *,
        chunks: int,
        records: dict[str, int],
        export_hash: str | None = None,
        pipeline_fingerprint: str | None = None,
    ) -> bool:
        """The importer published every chunk: announce how many, so the validator can tell
        when it has seen the whole run. False when the run ended meanwhile."""
        async with self._pool.acquire() as conn, conn.transaction():
            updated = await conn.fetchval(
                "update import_runs set read_at = now(), chunks = $2, records = $3,"
                " export_hash = $4, pipeline_fingerprint = $5"
                " where run_id = $1 and status = 'running' returning true",
                run.run_id,
                chunks,
                records,
                export_hash,
                pipeline_fingerprint,
            )
            if not updated:
                return False
            await self._event(
                conn, _run_event(run, "finished", "running", chunks=chunks, records=records)
            )
            return True

    async def end_run(
        self, run: Run, *, status: Literal["failed", "system_error", "restarted"], reason: str
    ) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            ended = await self._end(conn, run.run_id, status=status, reason=reason)
            return ended

    async def _end(
        self,
        conn: asyncpg.Connection,
        run_id: UUID,
        *,
        status: Literal["failed", "system_error", "restarted"],
        reason: str,
    ) -> bool:
        row = await conn.fetchrow(
            "update import_runs set status = $2, reason = $3, finished_at = now()"
            " where run_id = $1 and status = 'running'"
            " returning request_id, administration_id, trigger",
            run_id,
            status,
            reason,
        )
        if row is None:
            return False
        # A failed run's staged records are never loaded (R4: it closes nothing).
        for table in (
            "staged_customers",
            "staged_invoices",
            "staged_payment_conditions",
            "staged_findings",
            "run_chunks",
        ):
            await conn.execute(f"delete from {table} where run_id = $1", run_id)
        await self._event(
            conn,
            ImportRunEvent(
                event="failed",
                run_id=run_id,
                request_id=row["request_id"],
                administration_id=row["administration_id"],
                trigger=row["trigger"],
                status=status,
                reason=reason,
            ),
        )
        return True

    async def heartbeat(self, run_ids: Iterable[UUID]) -> None:
        ids = list(run_ids)
        if ids:
            await self._pool.execute(
                "update import_runs set heartbeat_at = now() where run_id = any($1::uuid[])"
                " and status = 'running'",
                ids,
            )

    async def hand_back(self, run_id: UUID) -> bool:
        """An importer that stops while reading gives its run back at once: `restarted`,
        queued as the follow-up, so the next importer starts it again without waiting for
        it to go stale. False when the run was read (or ended) meanwhile."""
        async with self._pool.acquire() as conn, conn.transaction():
            run = await conn.fetchrow(
                "select run_id, request_id, administration_id, trigger, requested_by"
                " from import_runs where run_id = $1 and status = 'running' and read_at is null"
                " for update",
                run_id,
            )
            if run is None:
                return False
            await self._restart(conn, run)
            return True

    async def _restart(self, conn: asyncpg.Connection, run: asyncpg.Record) -> None:
        await self._lock_slot(conn, run["administration_id"])
        await self._end(
            conn,
            run["run_id"],
            status="restarted",
            reason="the importer stopped while reading; the run starts again",
        )
        await conn.execute(
            "update import_slots set follow_up_request_id = coalesce("
            "follow_up_request_id, $2), follow_up_trigger = coalesce(follow_up_trigger,"
            " $3), follow_up_requested_by = coalesce(follow_up_requested_by, $4)"
            " where administration_id = $1",
            run["administration_id"],
            run["request_id"],
            run["trigger"],
            run["requested_by"],
        )

    async def recover_abandoned_runs(
        self, *, stale_seconds: float, unconfirmed_seconds: float
    ) -> list[str]:
        """Runs whose importer died while reading are marked `restarted` and queued again;
        runs the validator never confirmed end as `system_error`. Returns the
        administrations that may now start a follow-up."""
        freed: list[str] = []
        async with self._pool.acquire() as conn, conn.transaction():
            abandoned = await conn.fetch(
                "select run_id, request_id, administration_id, trigger, requested_by"
                " from import_runs where status = 'running' and read_at is null"
                " and heartbeat_at < now() - make_interval(secs => $1)"
                " for update skip locked",
                stale_seconds,
            )
            for run in abandoned:
                await self._restart(conn, run)
                freed.append(run["administration_id"])
            unconfirmed = await conn.fetch(
                "select run_id, administration_id, chunks from import_runs"
                " where status = 'running' and read_at < now() - make_interval(secs => $1)"
                " for update skip locked",
                unconfirmed_seconds,
            )
            for run in unconfirmed:
                received = await conn.fetchval(
                    "select count(*) from run_chunks where run_id = $1", run["run_id"]
                )
                await self._end(
                    conn,
                    run["run_id"],
                    status="system_error",
                    reason=f"the validator confirmed {received} of {run['chunks']} chunks"
                    f" within {unconfirmed_seconds:.0f} seconds",
                )
                freed.append(run["administration_id"])
        return freed

    async def scheduled_administrations(self) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "select id, import_mode, import_at, timezone, source, created_at"
            " from administrations where import_mode in ('schedule', 'file')"
        )
        return [dict(row) for row in rows]

    async def claim_moment(self, administration_id: str, moment: datetime) -> bool:
        """A scheduled moment fires once: the first importer to claim it wins."""
        claimed = await self._pool.fetchval(
            "insert into schedule_claims (administration_id, moment) values ($1, $2)"
            " on conflict do nothing returning true",
            administration_id,
            moment,
        )
        return bool(claimed)

    async def claim_fingerprint(self, administration_id: str, fingerprint: str) -> bool:
        """True once per new export: the first importer to see the new fingerprint wins."""
        claimed = await self._pool.fetchval(
            "insert into source_fingerprints (administration_id, fingerprint) values ($1, $2)"
            " on conflict (administration_id) do update set fingerprint = excluded.fingerprint,"
            " seen_at = now() where source_fingerprints.fingerprint <> excluded.fingerprint"
            " returning true",
            administration_id,
            fingerprint,
        )
        return bool(claimed)


def _run_event(run: Run, event: RunEventKind, status: RunStatus, **fields: Any) -> ImportRunEvent:
    return ImportRunEvent(
        event=event,
        run_id=run.run_id,
        request_id=run.request_id,
        administration_id=run.administration_id,
        trigger=run.trigger,
        status=status,
        **fields,
    )
