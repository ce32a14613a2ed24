"""The importer's handlers: admit import requests, run imports, start follow-ups, keep time.

Handlers are thin: the decisions are in `logic`, the SQL in `store`, the reading in `reader`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from services.importer.logic import latest_due_moment
from services.importer.reader import ChunkPublisher, publish_outstanding
from services.importer.sources import SourceError, open_source
from services.importer.store import ImportStore, Run
from services.importer.unchanged import ExportIdentity, pipeline_fingerprint
from shared.db import retry_while_unavailable
from shared.kafka import Decoded
from shared.messages import ImportRequested, ImportRunEvent, encode
from shared.service import ServiceRuntime

__all__ = ["Importer"]

log = logging.getLogger("creditflow.importer")

EXPORT_CHANGED_WHILE_READ = (
    "the export changed while it was being read, so nothing was loaded; import again once it"
    " is complete (write the files under another name and rename them when done)"
)
HEARTBEAT_SECONDS = 5.0
STALE_RUN_SECONDS = 30.0
UNCONFIRMED_RUN_SECONDS = 1800.0


class Importer:
    def __init__(self, runtime: ServiceRuntime, *, tick_seconds: float = 15.0) -> None:
        self.runtime = runtime
        self.tick_seconds = tick_seconds
        self.active: dict[UUID, asyncio.Task[None]] = {}
        self._store: ImportStore | None = None
        # File mode: the fingerprint each watched export had at the previous tick.
        self._exports_seen: dict[str, str] = {}

    @property
    def store(self) -> ImportStore:
        if self._store is None:
            self._store = ImportStore(self.runtime.pool, self.runtime.topics)
        return self._store

    # --- subscribers ---------------------------------------------------------------------

    async def on_import_requested(self, batch: list[Decoded[ImportRequested]]) -> None:
        for item in batch:
            request = item.message
            admission = await self.store.admit(request)
            log.info(
                "import request %s for %r (%s by %s): %s",
                request.request_id,
                request.administration_id,
                request.trigger,
                request.requested_by,
                admission.outcome,
            )
            if admission.run is not None:
                self.launch(admission.run)
        await self.runtime.relay.flush()

    async def on_run_event(self, batch: list[Decoded[ImportRunEvent]]) -> None:
        ended = {
            item.message.administration_id
            for item in batch
            if item.message.event in ("completed", "failed")
        }
        for administration_id in sorted(ended):
            await self.start_follow_up(administration_id)

    # --- runs ----------------------------------------------------------------------------

    async def start_follow_up(self, administration_id: str) -> None:
        run = await self.store.start_follow_up(administration_id)
        if run is not None:
            log.info("follow-up run %s for %r", run.run_id, administration_id)
            await self.runtime.relay.flush()
            self.launch(run)

    def launch(self, run: Run) -> None:
        task = asyncio.create_task(self.execute(run), name=f"import-run:{run.run_id}")
        self.active[run.run_id] = task
        task.add_done_callback(lambda _: self.active.pop(run.run_id, None))

    async def execute(self, run: Run) -> None:
        """Read the source and publish the run; a source that cannot be read fails the run
        with a reason naming file, line and column, and changes nothing that was loaded."""
        publisher = ChunkPublisher(
            self.runtime.broker, self.runtime.topics.raw_records, run.administration_id, run.run_id
        )
        # A database outage delays the run's bookkeeping; it does not fail the run.
        what = f"run {run.run_id}"
        try:
            source = open_source(run.source)
            export = await asyncio.to_thread(ExportIdentity.of, source)
            pipeline = pipeline_fingerprint()
            content_hash = export.content_hash
            same_as = None
            if content_hash is not None:
                same_as = await retry_while_unavailable(
                    lambda: self.store.complete_unchanged(
                        run, export_hash=content_hash, pipeline_fingerprint=pipeline
                    ),
                    what=what,
                )
            if same_as is not None:
                log.info("run %s: the export is unchanged since run %s", run.run_id, same_as)
            else:
                records = await publish_outstanding(source, publisher)
                if not await asyncio.to_thread(export.still_describes, source):
                    # What was read may be half of one export and half of another: loading
                    # it would close every invoice not read yet (R4).
                    raise SourceError(EXPORT_CHANGED_WHILE_READ)
                await retry_while_unavailable(
                    lambda: self.store.mark_read(
                        run,
                        chunks=publisher.seq,
                        records=records,
                        export_hash=content_hash,
                        pipeline_fingerprint=pipeline,
                    ),
                    what=what,
                )
                log.info("run %s read: %d chunks, %s", run.run_id, publisher.seq, records)
        except asyncio.CancelledError:
            raise  # shutdown: the run is restarted by whichever importer finds it stale
        except (SourceError, ValueError) as exc:
            log.warning("run %s failed: %s", run.run_id, exc)
            failure = str(exc)
            await retry_while_unavailable(
                lambda: self.store.end_run(run, status="failed", reason=failure), what=what
            )
        except Exception as exc:
            log.exception("run %s hit a system error", run.run_id)
            reason = f"{type(exc).__name__}: {exc}"
            await retry_while_unavailable(
                lambda: self.store.end_run(run, status="system_error", reason=reason), what=what
            )
        try:
            await self.runtime.relay.flush()
        except Exception as exc:  # the relay's own loop publishes them once it can
            log.warning("run %s: events not relayed yet (%s)", run.run_id, exc)

    async def hand_back_runs(self) -> None:
        """Shutdown: stop reading and give the runs being read back at once (see
        ImportStore.hand_back), before the broker and the database go."""
        running = list(self.active.items())
        for _, task in running:
            task.cancel()
        await asyncio.gather(*(task for _, task in running), return_exceptions=True)
        try:
            for run_id, _ in running:
                if await self.store.hand_back(run_id):
                    log.info("run %s handed back: it starts again with the next importer", run_id)
            await self.runtime.relay.flush()
        except Exception as exc:  # an outage: the runs go stale and are restarted anyway
            log.warning("runs not handed back (%s); they restart once stale", exc)

    # --- time ----------------------------------------------------------------------------

    async def keep_time(self) -> None:
        """Heartbeats for active runs, recovery of abandoned ones, follow-ups, schedules."""
        last_tick = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.store.heartbeat(self.active)
                if loop.time() - last_tick >= self.tick_seconds:
                    last_tick = loop.time()
                    await self.tick(datetime.now(UTC))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage must not stop the clock
                log.warning("importer clock: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(min(HEARTBEAT_SECONDS, self.tick_seconds))

    async def tick(self, now: datetime) -> None:
        freed = await self.store.recover_abandoned_runs(
            stale_seconds=STALE_RUN_SECONDS, unconfirmed_seconds=UNCONFIRMED_RUN_SECONDS
        )
        waiting = await self.store.administrations_waiting_for_follow_up()
        for administration_id in sorted(set(freed) | set(waiting)):
            await self.start_follow_up(administration_id)
        for admin in await self.store.scheduled_administrations():
            try:
                request = await self._due_request(admin, now)
            except ValueError as exc:  # one administration's bad schedule stops no other
                log.warning("schedule of %r cannot be read: %s", admin["id"], exc)
                continue
            if request is not None:
                await self.runtime.broker.publish(
                    encode(request),
                    self.runtime.topics.import_requests,
                    key=request.administration_id.encode(),
                    headers={"content-type": "application/json"},
                )
        await self.runtime.relay.flush()

    async def _due_request(self, admin: dict[str, Any], now: datetime) -> ImportRequested | None:
        admin_id = str(admin["id"])
        if admin["import_mode"] == "schedule":
            moment = latest_due_moment(
                now, list(admin["import_at"]), admin["timezone"], not_before=admin["created_at"]
            )
            if moment is not None and await self.store.claim_moment(admin_id, moment):
                log.info("scheduled import of %r for %s", admin_id, moment.isoformat())
                return ImportRequested(
                    administration_id=admin_id, trigger="schedule", requested_by="schedule"
                )
        elif admin["import_mode"] == "file":
            try:
                fingerprint = await asyncio.to_thread(
                    lambda: open_source(str(admin["source"])).fingerprint()
                )
            except (SourceError, ValueError) as exc:
                log.debug("no export to fingerprint for %r: %s", admin_id, exc)
                return None
            # A new export starts a run once it has stayed the same from one tick to the
            # next: one still being written is not read half-way.
            settled = self._exports_seen.get(admin_id) == fingerprint
            self._exports_seen[admin_id] = fingerprint
            if settled and await self.store.claim_fingerprint(admin_id, fingerprint):
                log.info("new export file for %r", admin_id)
                return ImportRequested(
                    administration_id=admin_id, trigger="file", requested_by="file-watch"
                )
        return None
