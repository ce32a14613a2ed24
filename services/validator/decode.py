"""A consumed raw-records chunk as the tables of records it holds, in either wire form.

A chunk carries its records one object each (`records`) or, as the importer publishes them, as
one table of rows (`table`, the compact form; see docs/import-and-validation.md). Both come out
as `Table`s: an entity, its columns, and per record its line and values. The validator works on
those rows directly; a record becomes a `Record` (its fields as a dict, which the rules take)
only when it has to be validated, so a record known to be unchanged never builds one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from shared.messages import Entity, RawRecord, RecordsRead

__all__ = ["Record", "Table", "records_of", "tables_of", "tables_of_records"]


class Record(NamedTuple):
    entity: Entity
    line: int
    data: Mapping[str, str]


class Table(NamedTuple):
    """Records of one entity: row i is the record on line `lines[i]` whose fields are
    `columns` zipped with `rows[i]`."""

    entity: Entity
    columns: Sequence[str]
    lines: Sequence[int]
    rows: Sequence[Sequence[str]]

    def records(self) -> Iterator[Record]:
        entity, columns = self.entity, self.columns
        for line, values in zip(self.lines, self.rows, strict=True):
            yield Record(entity, line, dict(zip(columns, values, strict=True)))


def tables_of_records(records: Iterable[RawRecord | Record]) -> list[Table]:
    """Records one object each (the older wire form) as tables of one row each."""
    return [Table(r.entity, list(r.data), [r.line], [list(r.data.values())]) for r in records]


def tables_of(chunk: RecordsRead) -> list[Table]:
    """The chunk's records: those in `records` first, then the rows of `table` (whose own
    checks guarantee a line per row and a value per column)."""
    tables = tables_of_records(chunk.records)
    if chunk.table is not None:
        t = chunk.table
        tables.append(Table(t.entity, t.columns, t.lines, t.values))
    return tables


def records_of(chunk: RecordsRead) -> list[Record]:
    """The chunk's records one by one, each with its fields as a dict."""
    return [record for table in tables_of(chunk) for record in table.records()]
