"""Turning a chunk of raw records into staging rows and findings (pure, no I/O).

Each record is validated on its own here (R5); the checks that need the whole run
(duplicates, unknown references, missing dunning plans, fixed fields) run in SQL when the run
is complete. Values are staged stripped of surrounding whitespace; findings keep the source
text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from services.validator import rules
from services.validator.decode import Table
from services.validator.rules import (
    Finding,
    validate_customer,
    validate_invoice,
    validate_payment_condition,
)
from shared.fingerprints import VALIDATION_LIBRARIES, library_versions
from shared.source_format import COLUMNS, KEY_COLUMN, Entity

__all__ = ["COLUMNS", "HASHED", "KEY_COLUMN", "StagedBatch", "source_hashes", "stage_records"]

# Staging tables hold the source columns (shared.source_format) in the same order.
TABLE: dict[Entity, str] = {
    "customer": "staged_customers",
    "invoice": "staged_invoices",
    "payment_condition": "staged_payment_conditions",
}
# Entities whose source text is hashed (see migration 0040): a record whose hash is known
# clean skips validation. Payment conditions are a handful; they are always validated.
HASHED = ("customer", "invoice")
_VALIDATE: dict[str, Callable[[Mapping[str, str]], list[Finding]]] = {
    "customer": validate_customer,
    "invoice": validate_invoice,
    "payment_condition": validate_payment_condition,
}


def _position(columns: Sequence[str], column: str) -> int | None:
    return columns.index(column) if column in columns else None


def _key(values: Sequence[str], at: int | None, line: int) -> str:
    """The record's key; a record without one is named by its line so it can be reported."""
    return (values[at].strip() if at is not None else "") or f"(no number, line {line})"


def _rules_fingerprint() -> str:
    """What the outcome of validating a record depends on besides its text: the rules and the
    libraries they consult. A change of either makes every hash new, so all is validated."""
    digest = hashlib.md5(Path(rules.__file__).read_bytes())
    digest.update(library_versions(VALIDATION_LIBRARIES).encode())
    return digest.hexdigest()


_FINGERPRINT = _rules_fingerprint()


def source_hashes(tables: Iterable[Table]) -> list[tuple[str, str] | None]:
    """Per record, in the order of the tables' rows, (key, hash of its source text) for
    hashed entities, else None.

    The text is the rules' fingerprint (what validating it depends on besides the text), the
    entity, the repr of the record's column names, then its values as the export has them,
    joined by NUL: no value holds one (the message models refuse it) and a row has a value
    per column, so no other record shares the text. Joining costs half of a repr, and a
    record known to be unchanged costs no more than this."""
    md5 = hashlib.md5
    out: list[tuple[str, str] | None] = []
    for table in tables:
        entity = table.entity
        if entity not in HASHED:
            out.extend([None] * len(table.rows))
            continue
        prefix = f"{_FINGERPRINT}{entity}{list(table.columns)!r}"
        key_at = _position(table.columns, KEY_COLUMN[entity])
        for line, values in zip(table.lines, table.rows, strict=True):
            text = prefix + "\x00".join(values)
            out.append(
                (_key(values, key_at, line), md5(text.encode("utf-8", "surrogatepass")).hexdigest())
            )
    return out


@dataclass
class StagedBatch:
    """Rows ready for COPY: per staging table, and the findings of every record."""

    rows: dict[str, list[tuple[object, ...]]] = field(
        default_factory=lambda: {table: [] for table in TABLE.values()}
    )
    findings: list[tuple[object, ...]] = field(default_factory=list)

    def extend(self, other: StagedBatch) -> None:
        for table, rows in other.rows.items():
            self.rows[table].extend(rows)
        self.findings.extend(other.findings)


def stage_records(
    run_id: UUID,
    tables: Iterable[Table],
    hashes: Sequence[tuple[str, str] | None] | None = None,
    known: Collection[tuple[str, str, str]] = frozenset(),
) -> StagedBatch:
    """Validate and stage records. `hashes` are `source_hashes(tables)` (computed here when
    not given); a record whose (entity, key, hash) is in `known` (loaded from that very text,
    which validation found nothing in) is staged without validating it again."""
    tables = list(tables)
    if hashes is None:
        hashes = source_hashes(tables)
    batch = StagedBatch()
    each_hash = iter(hashes)
    for table in tables:
        entity, columns = table.entity, table.columns
        validate = _VALIDATE[entity]
        staged_at = [_position(columns, column) for column in COLUMNS[entity][1:]]
        key_at = _position(columns, KEY_COLUMN[entity])
        rows = batch.rows[TABLE[entity]]
        for line, values in zip(table.lines, table.rows, strict=True):
            hashed = next(each_hash)
            if hashed is None:
                key, source_hash = _key(values, key_at, line), None
            else:
                key, source_hash = hashed
            if source_hash is not None and (entity, key, source_hash) in known:
                found: list[Finding] = []
            else:
                found = validate(dict(zip(columns, values, strict=True)))
            has_error = False
            for finding in found:
                has_error = has_error or finding.severity == "error"
                batch.findings.append(
                    (
                        run_id,
                        entity,
                        key,
                        finding.code,
                        finding.field,
                        finding.value,
                        finding.severity,
                        finding.message,
                    )
                )
            staged = [values[at].strip() if at is not None else "" for at in staged_at]
            row: tuple[object, ...] = (run_id, line, key, *staged, has_error)
            if entity in HASHED:
                row = (*row, source_hash, not found)
            rows.append(row)
    return batch
