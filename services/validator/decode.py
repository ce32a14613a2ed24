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
        entity, columns = table.entity, table.columns
        records.extend(
            Record(entity, line, dict(zip(columns, values, strict=True)))
            for line, values in zip(table.lines, table.values, strict=True)
        )
    return records
