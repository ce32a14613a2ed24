"""The compact form of a raw-records chunk (RecordTable): what it refuses, and how the
validator reads a chunk in either form."""

from __future__ import annotations

import json
from uuid import UUID

import pytest
from pydantic import ValidationError

from services.importer.reader import chunk_message
from services.importer.sources import SourceRow
from services.validator.decode import Record, records_of
from shared.messages import RawRecord, RecordsRead, RecordTable, encode

RUN = UUID(int=7)
COLUMNS = ["code", "description", "term_days"]


def table(**changes: object) -> dict[str, object]:
    return {
        "entity": "payment_condition",
        "columns": ["code", "description", "term_days"],
        "lines": [2, 3],
        "values": [["30D", "30 days", "30"], ["14D", "", "14"]],
    } | changes


def test_a_chunk_is_published_as_one_table_of_rows() -> None:
    rows = [
        SourceRow(2, {"code": "30D", "description": "30 days", "term_days": "30"}),
        SourceRow(5, {"code": "14D", "description": "", "term_days": "14"}),
    ]
    wire = json.loads(encode(chunk_message("acme", RUN, 3, "payment_condition", rows)))
    assert "records" not in wire or wire["records"] == []
    assert wire["seq"] == 3
    assert wire["table"] == table(lines=[2, 5])


def test_a_source_row_without_an_optional_column_travels_with_it_empty() -> None:
    rows = [SourceRow(2, {"code": "30D", "term_days": "30"})]
    message = chunk_message("acme", RUN, 0, "payment_condition", rows)
    assert records_of(message) == [
        Record("payment_condition", 2, {"code": "30D", "description": "", "term_days": "30"})
    ]


def test_the_validator_reads_records_then_table_rows() -> None:
    chunk = RecordsRead(
        administration_id="acme",
        run_id=RUN,
        seq=0,
        records=[RawRecord(entity="customer", line=9, data={"customer_number": "C1"})],
        table=RecordTable.model_validate(table()),
    )
    assert records_of(chunk) == [
        Record("customer", 9, {"customer_number": "C1"}),
        Record(
            "payment_condition", 2, {"code": "30D", "description": "30 days", "term_days": "30"}
        ),
        Record("payment_condition", 3, {"code": "14D", "description": "", "term_days": "14"}),
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"values": [["30D", "30 days", "3\x000"], ["14D", "", "14"]]}, "NUL character"),
        ({"columns": ["code", "descr\x00iption", "term_days"]}, "NUL character"),
        ({"values": [["30D", "30"], ["14D", "", "14"]]}, "does not hold 3 values"),
        ({"lines": [2]}, "1 lines for 2 rows"),
        ({"columns": ["code", "code", "term_days"]}, "more than once"),
        ({"entity": "supplier"}, "entity"),
    ],
)
def test_a_table_that_does_not_hold_together_is_refused(
    changes: dict[str, object], reason: str
) -> None:
    raw = {"administration_id": "acme", "run_id": str(RUN), "seq": 0, "table": table(**changes)}
    with pytest.raises(ValidationError, match=reason):
        RecordsRead.model_validate_json(json.dumps(raw))


def test_a_table_built_from_source_rows_equals_the_checked_one() -> None:
    fields = table()
    built = RecordTable.of_rows("payment_condition", COLUMNS, [2, 3], fields["values"])  # type: ignore[arg-type]
    assert built == RecordTable.model_validate(fields)


def test_a_table_built_from_source_rows_still_refuses_a_nul_character() -> None:
    with pytest.raises(ValueError, match="NUL character"):
        RecordTable.of_rows("payment_condition", COLUMNS, [2], [["30D", "3\x00", "30"]])
