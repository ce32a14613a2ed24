"""What every source adapter yields: raw rows of the export, keyed by DESIGN section 6 names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shared.source_format import COLUMNS, ENTITIES, KEY_COLUMN, OPTIONAL_COLUMNS, Entity

__all__ = [
    "COLUMNS",
    "ENTITIES",
    "KEY_COLUMN",
    "OPTIONAL_COLUMNS",
    "Entity",
    "Source",
    "SourceError",
    "SourceRow",
]


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record exactly as the source holds it: validation is another module's job."""

    line: int  # 1-based line in its file (header is line 1), or a sequence number elsewhere
    data: dict[str, str]  # every COLUMNS name present, "" when empty


class SourceError(Exception):
    """The source cannot be read. str() is one sentence naming file, line and column where known."""

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments are lost by the default pickling of exceptions.
        return (_rebuild_source_error, (self.reason, self.file, self.line, self.column))


def _rebuild_source_error(
    reason: str, file: str | None, line: int | None, column: str | None
) -> SourceError:
    return SourceError(reason, file=file, line=line, column=column)


@runtime_checkable
class Source(Protocol):
    """An accounting package's export, read fresh on every call."""

    def payment_conditions(self) -> Iterator[SourceRow]: ...

    def invoices(self) -> Iterator[SourceRow]: ...

    def customers(self) -> Iterator[SourceRow]: ...

    def find(self, entity: Entity, key: str) -> SourceRow | None:
        """The record as it stands in the source now, or None (used by explain)."""
        ...

    def fingerprint(self) -> str:
        """Cheap; changes whenever the export changes."""
        ...

    def content_hash(self) -> str | None:
        """A hash of the export's whole content: equal for equal exports, whenever and
        wherever they were written (unlike `fingerprint`, which may change without them).
        None when the content cannot be known without consuming it."""
        ...
