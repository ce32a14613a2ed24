"""The CPU side of an import, stage by stage, without broker or database.

    python bench/validation_rate.py [--invoices 40000] [--customers 8000]

Prints one line, records per second of one core for each stage of the path a record takes:
read_per_s (parse the export), encode_per_s (cut into chunks and serialise, as the importer
publishes), decode_per_s (decode a consumed chunk into its tables of rows, as the validator
does) next to
json_loads_per_s (plain json.loads of the same bytes, the raw limit of decoding) and to
encode_objects_per_s / decode_objects_per_s (the older form, one object per record),
invoices_per_s and customers_cold_per_s / customers_warm_per_s (the rules alone; cold with
every cache empty, warm as a daily re-import sees them), stage_per_s (validation plus
staging rows, cold, for all records), hash_per_s (the source hashes alone) and
stage_known_per_s (staging when every record is known unchanged, as in a daily re-import:
no validation, no dict per record).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import export_for, figures

from services.importer.logic import is_outstanding
from services.importer.reader import CHUNK_SIZE, chunk_message
from services.importer.sources import FilesSource, SourceRow
from services.validator import rules
from services.validator.decode import tables_of
from services.validator.staging import source_hashes, stage_records
from shared.messages import RawRecord, RecordsRead, encode


def clear_caches() -> None:
    for value in vars(rules).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def rate(count: int, work: Callable[[], object], *, repeat: int = 3) -> float:
    """Records per second of the best of `repeat` runs (caches cleared before each)."""
    best = float("inf")
    for _ in range(repeat):
        clear_caches()
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return count / best


def main(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="creditflow-bench-") as work:
        export = Path(work)
        export_for(export, open_invoices=args.invoices, customers=args.customers)
        source = FilesSource(export)
        everything: list[SourceRow] = []
        read = rate(
            sum(1 for _ in source.invoices()) + sum(1 for _ in source.customers()),
            lambda: everything.extend([*source.invoices(), *source.customers()]),
            repeat=1,
        )
    invoices = [r for r in everything if "invoice_number" in r.data]
    invoices = [r for r in invoices if is_outstanding(r.data["amount_open"])]
    customers = [r for r in everything if "customer_number" in r.data and "name" in r.data]
    run_id = uuid4()
    pieces = [("invoice", invoices), ("customer", customers)]
    chunks = [
        (entity, rows[i : i + CHUNK_SIZE])
        for entity, rows in pieces
        for i in range(0, len(rows), CHUNK_SIZE)
    ]
    records = len(invoices) + len(customers)

    def encode_all() -> list[bytes]:
        return [
            encode(chunk_message("bench", run_id, seq, entity, rows))  # type: ignore[arg-type]
            for seq, (entity, rows) in enumerate(chunks)
        ]

    def encode_objects() -> list[bytes]:
        # The older wire form, one RawRecord object per record, for comparison.
        return [
            encode(
                RecordsRead(
                    administration_id="bench",
                    run_id=run_id,
                    seq=seq,
                    records=[
                        RawRecord(entity=entity, line=r.line, data=r.data)  # type: ignore[arg-type]
                        for r in rows
                    ],
                )
            )
            for seq, (entity, rows) in enumerate(chunks)
        ]

    messages = encode_all()
    objects = encode_objects()
    decoded = [tables_of(RecordsRead.model_validate_json(m)) for m in messages]
    hashes = [source_hashes(tables) for tables in decoded]
    known = {
        (table.entity, *pair)
        for tables, hashed in zip(decoded, hashes, strict=True)
        for table, pair in zip((t for t in tables for _ in t.rows), hashed, strict=True)
        if pair is not None
    }
    return {
        "records": records,
        "read_per_s": read,
        "encode_per_s": rate(records, encode_all),
        "decode_per_s": rate(
            records, lambda: [tables_of(RecordsRead.model_validate_json(m)) for m in messages]
        ),
        "json_loads_per_s": rate(records, lambda: [json.loads(m) for m in messages]),
        "encode_objects_per_s": rate(records, encode_objects),
        "decode_objects_per_s": rate(
            records, lambda: [tables_of(RecordsRead.model_validate_json(m)) for m in objects]
        ),
        "invoices_per_s": rate(
            len(invoices), lambda: [rules.validate_invoice(r.data) for r in invoices]
        ),
        "customers_cold_per_s": rate(
            len(customers), lambda: [rules.validate_customer(r.data) for r in customers]
        ),
        "customers_warm_per_s": len(customers)
        / _timed(lambda: [rules.validate_customer(r.data) for r in customers]),
        "stage_per_s": rate(records, lambda: [stage_records(run_id, c) for c in decoded]),
        "hash_per_s": rate(records, lambda: [source_hashes(tables) for tables in decoded]),
        "stage_known_per_s": rate(
            records,
            lambda: [
                stage_records(run_id, tables, hashed, known)
                for tables, hashed in zip(decoded, hashes, strict=True)
            ],
        ),
        "bytes_per_record": sum(map(len, messages)) / records,
        "bytes_per_record_objects": sum(map(len, objects)) / records,
    }


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=40_000, help="open invoices")
    parser.add_argument("--customers", type=int, default=None)
    args = parser.parse_args(argv)
    args.customers = args.customers or max(1, args.invoices // 5)
    return args


if __name__ == "__main__":
    print(figures(**main(parse())))
