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
from services.validator.decode import Record
from services.validator.rules import (
    Finding,
    validate_customer,
    validate_invoice,
    validate_payment_condition,
)
from shared.fingerprints import VALIDATION_LIBRARIES, library_versions
from shared.source_format import COLUMNS, KEY_COLUMN, Entity

__all__ = [
    "COLUMNS",
    "HASHED",
    "KEY_COLUMN",
    "StagedBatch",
    "record_key",
    "source_hashes",
    "stage_records",
]

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


def record_key(entity: Entity, data: Mapping[str, str], line: int) -> str:
    """The record's key; a record without one is named by its line so it can be reported."""
    key = (data.get(KEY_COLUMN[entity]) or "").strip()
    return key or f"(no number, line {line})"


def _rules_fingerprint() -> str:
    """What the outcome of validating a record depends on besides its text: the rules and the
    libraries they consult. A change of either makes every hash new, so all is validated."""
    digest = hashlib.md5(Path(rules.__file__).read_bytes())
    digest.update(library_versions(VALIDATION_LIBRARIES).encode())
    return digest.hexdigest()


_FINGERPRINT = _rules_fingerprint()


def source_hashes(records: Iterable[Record]) -> list[tuple[str, str] | None]:
    """Per record, (key, hash of its source text) for hashed entities, else None.

    The text is the record's fields as the export has them (the repr of the dict, which no
    other dict shares), after the rules' fingerprint: what validating it depends on."""
    fingerprint = _FINGERPRINT
    md5 = hashlib.md5
    out: list[tuple[str, str] | None] = []
    for record in records:
        entity = record.entity
        if entity not in HASHED:
            out.append(None)
            continue
        data = record.data
        fields = data if type(data) is dict else dict(data)
        text = f"{fingerprint}{entity}{fields!r}"
        key = record_key(entity, data, record.line)
        out.append((key, md5(text.encode("utf-8", "surrogatepass")).hexdigest()))
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
    records: Iterable[Record],
    hashes: Sequence[tuple[str, str] | None] | None = None,
    known: Collection[tuple[str, str, str]] = frozenset(),
) -> StagedBatch:
    """Validate and stage records. `hashes` are `source_hashes(records)` (computed here when
    not given); a record whose (entity, key, hash) is in `known` (loaded from that very text,
    which validation found nothing in) is staged without validating it again."""
    records = list(records)
    if hashes is None:
        hashes = source_hashes(records)
    batch = StagedBatch()
    for record, hashed in zip(records, hashes, strict=True):
        entity = record.entity
        data = record.data
        if hashed is None:
            key, source_hash = record_key(entity, data, record.line), None
        else:
            key, source_hash = hashed
        if source_hash is not None and (entity, key, source_hash) in known:
            found: list[Finding] = []
        else:
            found = _VALIDATE[entity](data)
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
        values = [(data.get(column) or "").strip() for column in COLUMNS[entity][1:]]
        row: tuple[object, ...] = (run_id, record.line, key, *values, has_error)
        if entity in HASHED:
            row = (*row, source_hash, not found)
        batch.rows[TABLE[entity]].append(row)
    return batch
