"""A consumed raw-records chunk as the records it holds, in either wire form.

A chunk carries its records one object each (`records`) or, as the importer publishes them, as
one table of rows (`table`, the compact form; see docs/import-and-validation.md). Both come out
the same: records with `.entity`, `.line` and `.data`, the form `stage_records` takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from shared.messages import Entity, RecordsRead

__all__ = ["Record", "records_of"]


class Record(NamedTuple):
    entity: Entity
    line: int
    data: Mapping[str, str]


def records_of(chunk: RecordsRead) -> list[Record]:
    """The chunk's records: those in `records` first, then the rows of `table`."""
    records = [Record(r.entity, r.line, r.data) for r in chunk.records]
    table = chunk.table
    if table is not None:
        # The table's own checks guarantee a line per row and a value per column, so the
        # zips need not check again. tuple.__new__ is what Record._make does, without the
        # Python-level call: this loop runs for every record of an import.
        entity, columns, make = table.entity, table.columns, tuple.__new__
        records.extend(
            make(Record, (entity, line, dict(zip(columns, values, strict=False))))
            for line, values in zip(table.lines, table.values, strict=False)
        )
    return records
