"""The source hashes that let an unchanged record skip validation (staging.source_hashes)."""

from __future__ import annotations

from uuid import UUID

import pytest

from services.validator import staging
from services.validator.decode import Table, tables_of, tables_of_records
from services.validator.staging import source_hashes, stage_records
from shared.messages import RawRecord, RecordsRead, RecordTable


def hashed(entity: str, line: int = 2, **data: str) -> tuple[str, str] | None:
    return source_hashes(tables_of_records([RawRecord(entity=entity, line=line, data=data)]))[0]


def test_the_same_text_gives_the_same_hash_and_any_change_another() -> None:
    base = {"customer_number": "C1", "name": "Jan", "email": "jan@example.nl", "phone": ""}
    key, digest = hashed("customer", **base)  # type: ignore[misc]
    assert key == "C1"
    assert hashed("customer", line=40, **base) == (key, digest)  # the line is not the text
    variants = [
        {**base, "name": "Jan "},  # surrounding space: validation sees it, so does the hash
        {**base, "name": "Jan", "email": "jan@example.nl", "phone": "0"},
        {**base, "name": "Jan\x1fjan@example.nl", "email": ""},  # text moved across fields
        {**base, "city": "Utrecht"},  # a field more
    ]
    digests = {hashed("customer", **row)[1] for row in variants}  # type: ignore[index]
    assert len(digests) == len(variants) and digest not in digests


def test_only_customers_and_invoices_are_hashed_and_the_entity_is_part_of_the_text() -> None:
    assert hashed("payment_condition", code="30D", description="", term_days="30") is None
    one = hashed("invoice", invoice_number="X1", customer_number="C1")
    other = hashed("customer", invoice_number="X1", customer_number="C1")
    assert one is not None and other is not None and one[1] != other[1]
    keyless = hashed("invoice", invoice_number="", customer_number="C1", line=7)
    assert keyless is not None and keyless[0] == "(no number, line 7)"


def test_a_record_hashes_the_same_in_either_wire_form() -> None:
    """The importer publishes tables; older chunks hold one object per record. A record
    loaded from one form is known unchanged when it comes in the other."""
    columns = ["invoice_number", "customer_number", "description"]
    rows = [["F1", "C1", "first"], ["F2", "C1", ""], [" F3 ", "C2", "it's"]]
    chunk = RecordsRead(
        administration_id="acme",
        run_id=UUID(int=1),
        seq=0,
        table=RecordTable(entity="invoice", columns=columns, lines=[2, 3, 4], values=rows),
    )
    objects = [
        RawRecord(entity="invoice", line=line, data=dict(zip(columns, row, strict=True)))
        for line, row in zip([2, 3, 4], rows, strict=True)
    ]
    from_table = source_hashes(tables_of(chunk))
    assert from_table == source_hashes(tables_of_records(objects))
    assert [pair[0] for pair in from_table if pair] == ["F1", "F2", "F3"]
    # a row given as a tuple is the same text
    as_tuples = Table("invoice", columns, [2, 3, 4], [tuple(row) for row in rows])
    assert source_hashes([as_tuples]) == from_table


def test_a_known_record_is_staged_as_validating_it_would_stage_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Columns in an order of the export's own, one the staging does not know, one left out.
    columns = ["name", "customer_number", "email", "street", "postal_code", "city", "extra"]
    first = [" Jan ", " C1 ", "jan@example.nl", "Dorpsstraat 1", "1234 AB", "Utrecht", "x"]
    second = ["Piet", "C2", "piet@example.nl", "Kerkstraat 2", "1234 AB", "Utrecht", ""]
    table = Table("customer", columns, [2, 3], [first, second])
    hashes = source_hashes([table])
    run_id = UUID(int=2)
    validated = stage_records(run_id, [table], hashes)
    assert validated.findings == []

    calls: list[dict[str, str]] = []
    real = staging._VALIDATE["customer"]
    monkeypatch.setitem(
        staging._VALIDATE, "customer", lambda data: calls.append(dict(data)) or real(data)
    )
    c1 = hashes[0]
    assert c1 is not None
    known = stage_records(run_id, [table], hashes, {("customer", *c1)})
    assert [c["customer_number"] for c in calls] == ["C2"]  # C1 was not validated again
    assert known.rows == validated.rows
    # stripped, in the staging columns' order; a column the export lacks is empty
    assert known.rows["staged_customers"][0][:7] == (
        run_id,
        2,
        "C1",
        "Jan",
        "jan@example.nl",
        "",
        "Dorpsstraat 1",
    )
