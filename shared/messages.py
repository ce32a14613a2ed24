"""Message models for every topic (DESIGN section 5).

Values are UTF-8 JSON objects keyed by `administration_id`; every message has a `message_id`
and an ISO-8601 UTC timestamp. Consumers ignore unknown fields. `ImportRequested` and
`ValidationErrorEvent` are the public contract and must keep their shape exactly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import chain
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "AcceptedChange",
    "AdministrationId",
    "ControlEvent",
    "Entity",
    "ImportRequested",
    "ImportRunEvent",
    "Message",
    "NotificationRecorded",
    "RawRecord",
    "RecordTable",
    "RecordsRead",
    "ReminderRunRequested",
    "RunEventKind",
    "UpdatesAccepted",
    "ValidationErrorEvent",
    "encode",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    # A timestamp without a zone is taken as UTC, the contract's only zone.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
AdministrationId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]
Entity = Literal["customer", "invoice", "payment_condition"]
RunStatus = Literal["running", "completed", "failed", "system_error", "restarted"]
RunEventKind = Literal["started", "finished", "completed", "failed"]


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False  # numbers, dates, ids, nested models (which check themselves)


class _Model(BaseModel):
    """Frozen, unknown fields ignored, and no NUL character in any text: PostgreSQL cannot
    store one, so such a message is refused when decoded (and goes to the dead letters)
    rather than failing every time it is applied."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="after")
    def _no_nul_characters(self) -> Any:
        for name, value in self.__dict__.items():
            if _holds_nul(value):
                raise ValueError(f"{name} holds a NUL character (\\u0000), which is not text")
        return self


class Message(_Model):
    message_id: UUID = Field(default_factory=uuid4, description="Unique id of this message.")


def encode(message: Message) -> bytes:
    """The wire form: compact JSON, absent optional fields left out."""
    return message.model_dump_json(exclude_none=True).encode()


# --- contract topics -------------------------------------------------------------------------


class ImportRequested(Message):
    """`{prefix}import-requests`: somebody or something asks for an import run now."""

    request_id: UUID = Field(default_factory=uuid4, description="Id the requester can follow.")
    administration_id: AdministrationId
    trigger: Literal["manual", "schedule", "file"] = Field(
        description="manual (CLI, HTTP, dashboard, other systems), schedule, or file "
        "(extension: a new export file was provided)."
    )
    requested_by: str = Field(max_length=200, description="Who or what asked: cli, http, ...")
    requested_at: UtcDatetime = Field(default_factory=utcnow)


class ValidationErrorEvent(Message):
    """`{prefix}validation-errors`: an error or warning was raised or resolved (R6)."""

    event: Literal["raised", "resolved"]
    error_id: UUID = Field(description="Stable for (administration, entity, key, code).")
    administration_id: AdministrationId
    run_id: UUID | None = None
    entity: Entity
    key: str
    code: str
    field: str
    value: str
    severity: Literal["error", "warning"]
    message: str
    occurred_at: UtcDatetime = Field(default_factory=utcnow)
    resolution: Literal["fixed", "left_import", "ignored"] | None = None


# --- internal topics -------------------------------------------------------------------------


class RawRecord(_Model):
    entity: Entity
    line: int = Field(description="Line in the source file (header is line 1).")
    data: dict[str, str] = Field(description="Raw source fields, DESIGN section 6 names.")


def _refuse_nul_in_table(columns: list[str], values: list[list[str]]) -> None:
    # One scan over all values: a chunk holds thousands, checked one by one they cost about
    # as much as decoding the chunk.
    if "\x00" in "".join(chain(columns, chain.from_iterable(values))):
        raise ValueError("a value holds a NUL character (\\u0000), which is not text")


class RecordTable(_Model):
    """Records of one entity as a table: the column names once, then one row of values per
    record (extension, see docs/import-and-validation.md). Row i is the record on line
    `lines[i]` whose `data` maps `columns` to `values[i]`."""

    entity: Entity
    columns: list[str] = Field(description="Raw source fields, DESIGN section 6 names.")
    lines: list[int] = Field(description="Line of each row in the source file (header is 1).")
    values: list[list[str]] = Field(description="One list of values per row, in column order.")

    @classmethod
    def of_rows(
        cls, entity: Entity, columns: list[str], lines: list[int], values: list[list[str]]
    ) -> RecordTable:
        """A table built from rows that already fit its columns (each row one str per
        column, as a source yields them): only the NUL check runs, not the per-value type
        checks, which would cost about as much as reading the rows."""
        _refuse_nul_in_table(columns, values)
        return cls.model_construct(entity=entity, columns=columns, lines=lines, values=values)

    @model_validator(mode="after")
    def _no_nul_characters(self) -> RecordTable:
        _refuse_nul_in_table(self.columns, self.values)
        return self

    @model_validator(mode="after")
    def _rows_fit_the_columns(self) -> Any:
        width = len(self.columns)
        if len(set(self.columns)) != width:
            raise ValueError("a column name occurs more than once")
        if len(self.lines) != len(self.values):
            raise ValueError(f"{len(self.lines)} lines for {len(self.values)} rows")
        if any(len(row) != width for row in self.values):
            raise ValueError(f"a row does not hold {width} values, one per column")
        return self


class RecordsRead(Message):
    """`{prefix}raw-records`: one chunk of source records read by a run.

    The records are in `records`, one object each, or (extension) in `table`, the compact
    form the importer publishes; a consumer reads both, `records` first.
    """

    administration_id: AdministrationId
    run_id: UUID
    seq: int = Field(ge=0, description="Chunk number within the run, from 0.")
    records: list[RawRecord] = Field(default_factory=list)
    table: RecordTable | None = Field(
        default=None, description="Extension: records of one entity as columns and rows."
    )
    read_at: UtcDatetime = Field(default_factory=utcnow)


class ImportRunEvent(Message):
    """`{prefix}import-runs`: the lifecycle of a run.

    started   -- the importer began reading.
    finished  -- the importer published every chunk; `chunks` and `records` announce how many,
                 so the validator knows when it has seen the whole run.
    completed -- the validator loaded the run; `counts` per entity. Or (extension) the
                 importer found the export unchanged since the latest completed run: `counts`
                 as a full run would give them, `reason` says so, nothing was loaded.
    failed    -- the run ended without loading anything; `reason` says why.
    """

    event: RunEventKind
    run_id: UUID
    request_id: UUID | None = None
    administration_id: AdministrationId
    trigger: str | None = None
    status: RunStatus
    chunks: int | None = None
    records: dict[str, int] | None = None
    counts: dict[str, dict[str, int]] | None = None
    reason: str | None = None
    occurred_at: UtcDatetime = Field(default_factory=utcnow)


class AcceptedChange(_Model):
    entity: Entity
    key: str
    change: Literal["added", "updated", "closed", "blocked", "unblocked"]


class UpdatesAccepted(Message):
    """`{prefix}accepted-updates`: what a completed run changed in the loaded data."""

    administration_id: AdministrationId
    run_id: UUID
    changes: list[AcceptedChange]
    occurred_at: UtcDatetime = Field(default_factory=utcnow)


class ControlEvent(Message):
    """`{prefix}control`: an ignore-list or pause change, already in force in PostgreSQL."""

    administration_id: AdministrationId
    command: str = Field(description="ignore_added, ignore_removed, pause_set, pause_lifted, ...")
    detail: dict[str, Any] = Field(default_factory=dict)
    issued_by: str = "cli"
    issued_at: UtcDatetime = Field(default_factory=utcnow)


class ReminderRunRequested(Message):
    """`{prefix}reminder-requests`: run the reminders of an administration as of a date.

    Every path (CLI, HTTP, the daily schedule, another system) publishes this same message;
    a redelivered or repeated request sends nothing twice.
    """

    command: Literal["reminder_run_requested"] = "reminder_run_requested"
    request_id: UUID = Field(default_factory=uuid4)
    administration_id: AdministrationId
    as_of: date = Field(
        description="The date the run acts as: plan, interval, working day and holiday are "
        "judged at this date."
    )
    requested_by: str = "cli"
    requested_at: UtcDatetime = Field(default_factory=utcnow)


class NotificationRecorded(Message):
    """`{prefix}notifications`: an e-mail was sent or suppressed, and why.

    `failed` (an extension): the mail server refused the message for good (a rejected
    address, say); it is tried again by a later run.
    """

    administration_id: AdministrationId
    invoice: str
    kind: Literal["invoice", "reminder", "final_notice"]
    level: int = Field(
        description="0 for the invoice e-mail; reminders from 1; the final "
        "notice is the level after the plan's last reminder."
    )
    outcome: Literal["sent", "suppressed", "failed"]
    reason: str | None = Field(
        default=None,
        description="Why it was suppressed or failed: paused, ignored, blocked, closed, "
        "below_minimum, holiday, not_working_day, no_email, smtp_refused.",
    )
    email_message_id: str | None = None
    at: UtcDatetime = Field(default_factory=utcnow)
    # extensions
    notification_id: int | None = Field(default=None, description="The record's id.")
    customer: str | None = None
    detail: str | None = Field(default=None, description="The reason in words.")
    pause_id: int | None = Field(default=None, description="The pause that caused it.")
    pause_entity: str | None = None
    pause_key: str | None = None
    run_date: date | None = Field(default=None, description="The date the run acted as.")
    request_id: UUID | None = Field(default=None, description="The reminder run, if any.")
