"""Property tests of the export parser (DESIGN section 6) beyond those of test_files_source.py:
every file, any header order with extra and left-out optional columns, arbitrary bytes in the
customer and payment-condition files, and the promise the importer relies on: whatever the
parser accepts can be published as a raw-records message and reads back unchanged."""

from __future__ import annotations

import csv
from pathlib import Path
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.importer.reader import chunk_message
from services.importer.sources import COLUMNS, FilesSource, SourceError
from services.importer.sources.base import OPTIONAL_COLUMNS, Entity
from services.importer.sources.files import FILE_NAMES
from services.validator.decode import records_of
from shared.messages import RawRecord, RecordsRead, encode

# Each example rewrites the one file it reads, so sharing tmp_path between examples is safe.
REUSE = [HealthCheck.function_scoped_fixture]
ENTITIES: list[Entity] = ["customer", "invoice", "payment_condition"]

# What an accounting package may put in a field: anything but NUL and lone surrogates (which a
# UTF-8 file cannot hold), quotes, separators, line breaks, SQL and markup included.
VALUE = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
    st.sampled_from(
        [
            "'; drop table customers; --",
            '<script>alert("x")</script>',
            "O\"Brien, 't Hoekje",
            "line\nbreak",
            "\\N",
            "",
        ]
    ),
)


@st.composite
def exports(draw: st.DrawFn, entity: Entity) -> tuple[list[str], list[dict[str, str]]]:
    """A header (shuffled, optional columns possibly left out, extra columns) and its rows."""
    columns = [
        c
        for c in COLUMNS[entity]
        if c not in OPTIONAL_COLUMNS[entity] or draw(st.booleans(), label=f"keep {c}")
    ]
    extra = draw(st.lists(st.sampled_from(["notes", "internal_id", "x"]), unique=True))
    header = draw(st.permutations(columns + extra))
    rows = draw(st.lists(st.fixed_dictionaries({c: VALUE for c in header}), max_size=5))
    return header, rows


def _write(directory: Path, entity: Entity, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(directory / FILE_NAMES[entity], "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows([[row[c] for c in header] for row in rows])


@settings(max_examples=60, deadline=None, suppress_health_check=REUSE)
@given(data=st.data())
def test_any_header_order_with_extra_and_left_out_optional_columns_reads_back_by_name(
    tmp_path: Path, data: st.DataObject
) -> None:
    entity = data.draw(st.sampled_from(ENTITIES))
    header, rows = data.draw(exports(entity))
    _write(tmp_path, entity, header, rows)
    read = list(FilesSource(tmp_path).rows(entity))
    assert [tuple(r.data) for r in read] == [COLUMNS[entity]] * len(rows)
    assert [r.data for r in read] == [{c: row.get(c, "") for c in COLUMNS[entity]} for row in rows]
    lines = [r.line for r in read]
    assert lines == sorted(set(lines)) and all(line >= 2 for line in lines)


@settings(max_examples=100, deadline=None, suppress_health_check=REUSE)
@given(entity=st.sampled_from(["customer", "payment_condition"]), content=st.binary(max_size=300))
def test_arbitrary_bytes_in_any_file_yield_rows_or_one_line_source_error(
    tmp_path: Path, entity: Entity, content: bytes
) -> None:
    (tmp_path / FILE_NAMES[entity]).write_bytes(
        ",".join(COLUMNS[entity]).encode() + b"\n" + content
    )
    try:
        rows = list(FilesSource(tmp_path).rows(entity))
    except SourceError as error:
        assert "\n" not in str(error)
    else:
        assert all(tuple(r.data) == COLUMNS[entity] for r in rows)


@settings(max_examples=60, deadline=None, suppress_health_check=REUSE)
@given(data=st.data())
def test_whatever_the_parser_accepts_travels_as_a_raw_records_message_unchanged(
    tmp_path: Path, data: st.DataObject
) -> None:
    entity = data.draw(st.sampled_from(ENTITIES))
    header, rows = data.draw(exports(entity))
    _write(tmp_path, entity, header, rows)
    source_rows = list(FilesSource(tmp_path).rows(entity))
    expected = [(entity, row.line, row.data) for row in source_rows]
    # The compact form the importer publishes, as the validator reads it back.
    table = chunk_message("acme", UUID(int=1), 0, entity, source_rows)
    read = RecordsRead.model_validate_json(encode(table))
    assert read == table
    assert [(r.entity, r.line, dict(r.data)) for r in records_of(read)] == expected
    # The form with one object per record, which the validator still reads.
    records = [RawRecord(entity=entity, line=row.line, data=row.data) for row in source_rows]
    chunk = RecordsRead(administration_id="acme", run_id=UUID(int=1), seq=0, records=records)
    assert RecordsRead.model_validate_json(encode(chunk)) == chunk
    assert [(r.entity, r.line, dict(r.data)) for r in records_of(chunk)] == expected
