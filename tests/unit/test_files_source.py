"""The `files` source: streaming, tolerant of what exports look like, exact about what is wrong."""

from __future__ import annotations

import csv
import pickle
import tracemalloc
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.importer.sources import (
    COLUMNS,
    DemoSource,
    FilesSource,
    Source,
    SourceError,
    SourceRow,
    open_source,
    write_export,
)
from services.importer.sources import files as files_module

INVOICE_HEADER = ",".join(COLUMNS["invoice"])
CUSTOMER_HEADER = ",".join(COLUMNS["customer"])
CONDITION_HEADER = ",".join(COLUMNS["payment_condition"])
HEADER_BYTES = INVOICE_HEADER.encode()
# Each example rewrites the one file it reads, so sharing tmp_path between examples is safe.
FIXTURE_REUSE = HealthCheck.function_scoped_fixture
INVOICE = "F1001,C1,2026-01-05,2026-02-04,EUR,121.00,121.00,30D,Onderhoud"


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def read_invoices(directory: Path, content: str | bytes) -> list[SourceRow]:
    write(directory, "invoices.csv", content)
    return list(FilesSource(directory).invoices())


def error_reading_invoices(directory: Path, content: str | bytes) -> SourceError:
    with pytest.raises(SourceError) as caught:
        read_invoices(directory, content)
    return caught.value


# What comes out ---------------------------------------------------------------------------------


def test_rows_are_raw_strings_keyed_by_the_design_column_names(tmp_path: Path) -> None:
    rows = read_invoices(
        tmp_path,
        f"{INVOICE_HEADER}\n"
        ' F1001 ,C1,05-01-2026,,EUR,"1.234,50",  0 ,30D,"Reparatie, incl. ""spoed"""\n',
    )
    assert rows == [
        SourceRow(
            2,
            {
                "invoice_number": " F1001 ",
                "customer_number": "C1",
                "invoice_date": "05-01-2026",
                "due_date": "",
                "currency": "EUR",
                "amount_total": "1.234,50",
                "amount_open": "  0 ",
                "payment_condition": "30D",
                "description": 'Reparatie, incl. "spoed"',
            },
        )
    ]


def test_line_numbers_count_the_header_as_line_one_and_follow_multiline_values(
    tmp_path: Path,
) -> None:
    rows = read_invoices(
        tmp_path,
        f'{INVOICE_HEADER}\n{INVOICE}\nF2,C1,d,d,EUR,1,1,30D,"two\nlines"\n\nF3,C1,d,d,EUR,1,1,30D,x\n',
    )
    assert [(r.line, r.data["invoice_number"]) for r in rows] == [
        (2, "F1001"),
        (3, "F2"),
        (6, "F3"),
    ]
    assert rows[1].data["description"] == "two\nlines"


def test_all_three_files_are_read_with_their_own_columns(tmp_path: Path) -> None:
    write(tmp_path, "payment_conditions.csv", f"{CONDITION_HEADER}\n30D,30 dagen,30\n")
    write(
        tmp_path,
        "customers.csv",
        f"{CUSTOMER_HEADER}\nC1,Bakkerij Bos,info@bos.nl,020-1234567,Kerkstraat 1,1011 AB,"
        "Amsterdam,NL,nl,NL001234567B01,2026-01-01T10:00:00Z\n",
    )
    write(tmp_path, "invoices.csv", f"{INVOICE_HEADER}\n{INVOICE}\n")
    source = FilesSource(tmp_path)
    assert [r.data for r in source.payment_conditions()] == [
        {"code": "30D", "description": "30 dagen", "term_days": "30"}
    ]
    (customer,) = source.customers()
    assert customer.data["city"] == "Amsterdam"
    assert tuple(customer.data) == COLUMNS["customer"]
    (invoice,) = source.invoices()
    assert tuple(invoice.data) == COLUMNS["invoice"]


def test_a_header_only_file_yields_no_rows(tmp_path: Path) -> None:
    assert read_invoices(tmp_path, INVOICE_HEADER + "\n") == []


def test_a_utf8_byte_order_mark_is_stripped(tmp_path: Path) -> None:
    rows = read_invoices(tmp_path, b"\xef\xbb\xbf" + f"{INVOICE_HEADER}\n{INVOICE}\n".encode())
    assert rows[0].data["invoice_number"] == "F1001"


def test_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    rows = read_invoices(
        tmp_path, f'{INVOICE_HEADER}\r\n{INVOICE}\r\nF2,C1,d,d,EUR,1,1,30D,"a\r\nb"\r\n'
    )
    assert [r.data["description"] for r in rows] == ["Onderhoud", "a\r\nb"]
    assert [r.line for r in rows] == [2, 3]


def test_trailing_empty_lines_are_fine(tmp_path: Path) -> None:
    rows = read_invoices(tmp_path, f"{INVOICE_HEADER}\n{INVOICE}\n\n\r\n\n")
    assert len(rows) == 1


def test_a_last_line_without_line_break_is_read(tmp_path: Path) -> None:
    rows = read_invoices(tmp_path, f"{INVOICE_HEADER}\n{INVOICE}")
    assert rows[0].data["description"] == "Onderhoud"


def test_non_ascii_text_comes_through_unchanged(tmp_path: Path) -> None:
    rows = read_invoices(
        tmp_path, f"{INVOICE_HEADER}\nF1,C1,d,d,EUR,1,1,30D,Bäckerei Groß – café €\n"
    )
    assert rows[0].data["description"] == "Bäckerei Groß – café €"


def test_unknown_extra_columns_are_dropped_and_columns_may_come_in_any_order(
    tmp_path: Path,
) -> None:
    rows = read_invoices(
        tmp_path,
        "notes,amount_open,invoice_number,customer_number,invoice_date,due_date,currency,"
        "amount_total,payment_condition,description,project\n"
        "bel eerst,5.00,F1,C1,2026-01-01,2026-01-31,EUR,10.00,30D,Huur,P-7\n",
    )
    assert rows[0].data == {
        "invoice_number": "F1",
        "customer_number": "C1",
        "invoice_date": "2026-01-01",
        "due_date": "2026-01-31",
        "currency": "EUR",
        "amount_total": "10.00",
        "amount_open": "5.00",
        "payment_condition": "30D",
        "description": "Huur",
    }


def test_header_names_may_carry_surrounding_spaces(tmp_path: Path) -> None:
    header = ", ".join(COLUMNS["invoice"])
    assert read_invoices(tmp_path, f"{header}\n{INVOICE}\n")[0].data["currency"] == "EUR"


@pytest.mark.parametrize(
    ("file_name", "entity", "optional"),
    [
        ("customers.csv", "customer", "changed_at"),
        ("invoices.csv", "invoice", "description"),
        ("payment_conditions.csv", "payment_condition", "description"),
    ],
)
def test_optional_columns_may_be_left_out_and_read_as_empty(
    tmp_path: Path, file_name: str, entity: str, optional: str
) -> None:
    columns = [c for c in COLUMNS[entity] if c != optional]  # type: ignore[index]
    write(tmp_path, file_name, ",".join(columns) + "\n" + ",".join(f"v{i}" for i in columns) + "\n")
    (row,) = FilesSource(tmp_path).rows(entity)  # type: ignore[arg-type]
    assert row.data[optional] == ""
    assert tuple(row.data) == COLUMNS[entity]  # type: ignore[index]
    assert all(row.data[c] == f"v{c}" for c in columns)


# What is refused, and where ---------------------------------------------------------------------


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SourceError) as caught:
        list(FilesSource(missing).customers())
    assert caught.value.file == str(missing)
    assert caught.value.line is None
    assert str(caught.value) == f"{missing}: the export directory does not exist"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        list(FilesSource(tmp_path).payment_conditions())
    assert caught.value.file == str(tmp_path / "payment_conditions.csv")
    assert "does not exist" in caught.value.reason


def test_a_directory_in_place_of_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "invoices.csv").mkdir()
    with pytest.raises(SourceError, match="is a directory"):
        list(FilesSource(tmp_path).invoices())


def test_creating_the_source_does_not_touch_the_disk(tmp_path: Path) -> None:
    source = FilesSource(tmp_path / "not-yet")
    rows = source.invoices()  # nothing read until iterated
    with pytest.raises(SourceError):
        next(rows)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"], ids=["empty", "only-a-bom"])
def test_an_empty_file_has_no_header(tmp_path: Path, content: bytes) -> None:
    error = error_reading_invoices(tmp_path, content)
    assert error.file == str(tmp_path / "invoices.csv")
    assert error.reason == "the file is empty; expected a header row"


def test_a_blank_first_line_is_not_a_header(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, f"\n{INVOICE_HEADER}\n{INVOICE}\n")
    assert (error.line, error.reason) == (1, "the first line is empty; expected the header row")


@pytest.mark.parametrize("column", [c for c in COLUMNS["invoice"] if c != "description"])
def test_a_missing_required_invoice_column_is_named(tmp_path: Path, column: str) -> None:
    header = ",".join(c for c in COLUMNS["invoice"] if c != column)
    error = error_reading_invoices(tmp_path, header + "\n")
    assert (error.line, error.column) == (1, column)
    assert str(error) == (
        f"{tmp_path / 'invoices.csv'}, line 1, column '{column}': "
        "the header lacks this required column"
    )


@pytest.mark.parametrize(
    ("file_name", "entity", "column"),
    [
        ("customers.csv", "customer", "email"),
        ("customers.csv", "customer", "customer_number"),
        ("payment_conditions.csv", "payment_condition", "term_days"),
    ],
)
def test_a_missing_required_column_is_named_in_every_file(
    tmp_path: Path, file_name: str, entity: str, column: str
) -> None:
    write(tmp_path, file_name, ",".join(c for c in COLUMNS[entity] if c != column) + "\n")  # type: ignore[index]
    with pytest.raises(SourceError) as caught:
        list(FilesSource(tmp_path).rows(entity))  # type: ignore[arg-type]
    assert (caught.value.file, caught.value.line, caught.value.column) == (
        str(tmp_path / file_name),
        1,
        column,
    )


def test_several_missing_columns_are_all_mentioned(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, "invoice_number,customer_number\n")
    assert error.column == "invoice_date"
    assert "'due_date'" in error.reason and "'payment_condition'" in error.reason


def test_a_semicolon_separated_export_gets_a_hint(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, INVOICE_HEADER.replace(",", ";") + "\n")
    assert error.column == "invoice_number"
    assert "semicolons" in error.reason


def test_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, INVOICE_HEADER + ",currency\n")
    assert (error.line, error.column) == (1, "currency")
    assert "twice" in error.reason


def test_a_row_with_too_few_fields_names_its_line_and_both_counts(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, f"{INVOICE_HEADER}\n{INVOICE}\nF2,C1,2026-01-05\n")
    assert (error.line, error.column) == (3, None)
    assert str(error) == (
        f"{tmp_path / 'invoices.csv'}, line 3: expected 9 fields (as in the header) but found 3"
    )


def test_a_row_with_too_many_fields_names_its_line_and_both_counts(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, f"{INVOICE_HEADER}\n{INVOICE}\n\n{INVOICE},extra\n")
    assert error.line == 4
    assert error.reason == "expected 9 fields (as in the header) but found 10"


def test_extra_header_columns_set_the_expected_field_count(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, f"{INVOICE_HEADER},notes\n{INVOICE}\n")
    assert (error.line, error.reason) == (2, "expected 10 fields (as in the header) but found 9")


def test_rows_before_a_bad_row_are_yielded_first(tmp_path: Path) -> None:
    write(tmp_path, "invoices.csv", f"{INVOICE_HEADER}\n{INVOICE}\n{INVOICE}\nbroken\n")
    rows = FilesSource(tmp_path).invoices()
    assert next(rows).line == 2
    assert next(rows).line == 3
    with pytest.raises(SourceError, match="line 4"):
        next(rows)


def test_bytes_that_are_not_utf8_name_the_line_and_column(tmp_path: Path) -> None:
    content = f"{INVOICE_HEADER}\n{INVOICE}\n".encode() + (
        "F2,C1,2026-01-05,2026-02-04,EUR,1.00,1.00,30D,Caf\xe9 De Kroon\n".encode("latin-1")
    )
    error = error_reading_invoices(tmp_path, content)
    assert (error.file, error.line, error.column) == (
        str(tmp_path / "invoices.csv"),
        3,
        "description",
    )
    assert str(error) == (
        f"{tmp_path / 'invoices.csv'}, line 3, column 'description': "
        "the text is not valid UTF-8 (byte 0xE9); export the file as UTF-8"
    )


def test_bad_bytes_inside_a_multiline_value_name_the_line_they_are_on(tmp_path: Path) -> None:
    content = f'{INVOICE_HEADER}\nF1,C1,d,d,EUR,1,1,30D,"first\nsecond\n'.encode() + b'th\xffird"\n'
    error = error_reading_invoices(tmp_path, content)
    assert (error.line, error.column) == (4, "description")


def test_bad_bytes_in_the_header_name_line_one(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, b"invoice_n\xfcmber\n")
    assert (error.line, error.column) == (1, None)
    assert "0xFC" in error.reason


def test_bad_bytes_in_an_extra_column_still_name_that_column(tmp_path: Path) -> None:
    content = f"{INVOICE_HEADER},notes\n{INVOICE},".encode() + b"\x80\n"
    error = error_reading_invoices(tmp_path, content)
    assert (error.line, error.column) == (2, "notes")


def test_a_truncated_character_at_the_very_end_is_found(tmp_path: Path) -> None:
    content = f"{INVOICE_HEADER}\n{INVOICE}".encode() + "€".encode()[:2]
    error = error_reading_invoices(tmp_path, content)
    assert (error.line, error.column) == (2, "description")


def test_bad_bytes_deep_in_a_large_file_are_caught_while_streaming(tmp_path: Path) -> None:
    with open(tmp_path / "invoices.csv", "wb") as out:
        out.write(f"{INVOICE_HEADER}\n".encode())
        for _ in range(50_000):
            out.write(f"{INVOICE}\n".encode())
        out.write(b"F9,C1,d,d,EUR,1,1,30\xc3D,x\n")
        out.write(f"{INVOICE}\n".encode() * 10)
    rows = FilesSource(tmp_path).invoices()
    seen = 0
    with pytest.raises(SourceError) as caught:
        for _ in rows:
            seen += 1
    assert seen == 50_000
    assert (caught.value.line, caught.value.column) == (50_002, "payment_condition")


def test_a_nul_byte_names_the_line_and_column(tmp_path: Path) -> None:
    error = error_reading_invoices(
        tmp_path, f"{INVOICE_HEADER}\n{INVOICE}\nF2,C\x001,d,d,EUR,1,1,30D,x\n"
    )
    assert (error.line, error.column) == (3, "customer_number")
    assert "NUL" in error.reason


def test_an_unterminated_quote_names_the_line_and_column_where_it_opens(tmp_path: Path) -> None:
    error = error_reading_invoices(
        tmp_path, f'{INVOICE_HEADER}\n{INVOICE}\nF2,C1,d,d,EUR,1,1,30D,"Huur\n{INVOICE}\n'
    )
    assert (error.line, error.column) == (3, "description")
    assert error.reason == "a quoted value starts here but its closing quote is missing"


def test_an_unterminated_quote_that_swallows_a_large_file_still_names_where_it_opens(
    tmp_path: Path,
) -> None:
    # The csv module gives up with "field larger than field limit" long before the end.
    content = f'{INVOICE_HEADER}\n{INVOICE}\nF2,C1,"d,d,EUR,1,1,30D,x\n' + f"{INVOICE}\n" * 5000
    error = error_reading_invoices(tmp_path, content)
    assert (error.line, error.column) == (3, "invoice_date")
    assert "closing quote is missing" in error.reason


def test_text_after_a_closing_quote_is_refused_with_its_place(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, f'{INVOICE_HEADER}\nF1,C1,d,d,EUR,1,1,"30"D,x\n')
    assert (error.line, error.column) == (2, "payment_condition")
    assert "must be doubled" in error.reason


def test_an_unterminated_quote_in_the_header_names_line_one(tmp_path: Path) -> None:
    error = error_reading_invoices(tmp_path, '"invoice_number,customer_number\n')
    assert (error.line, error.column) == (1, None)


def test_a_line_longer_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files_module, "MAX_LINE_BYTES", 100_000)
    error = error_reading_invoices(tmp_path, f"{INVOICE_HEADER}\n{INVOICE}\n" + "x" * 300_000)
    assert error.line == 3
    assert "longer than 100000 bytes" in error.reason


def test_a_source_error_reads_as_one_sentence_and_survives_pickling() -> None:
    error = SourceError("expected 9 fields but found 8", file="/x/invoices.csv", line=7)
    assert str(error) == "/x/invoices.csv, line 7: expected 9 fields but found 8"
    assert "\n" not in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.file, copy.line, copy.column) == (error.reason, error.file, 7, None)
    assert str(SourceError("no export")) == "no export"


# find and fingerprint ---------------------------------------------------------------------------


def test_find_returns_the_record_as_it_stands_now(tmp_path: Path) -> None:
    write(tmp_path, "invoices.csv", f"{INVOICE_HEADER}\n{INVOICE}\nF2,C1,d,d,EUR,1,0.50,30D,x\n")
    source = FilesSource(tmp_path)
    found = source.find("invoice", "F2")
    assert found is not None and (found.line, found.data["amount_open"]) == (3, "0.50")
    write(tmp_path, "invoices.csv", f"{INVOICE_HEADER}\nF2,C1,d,d,EUR,1,0.00,30D,x\n")
    found = source.find("invoice", "F2")
    assert found is not None and (found.line, found.data["amount_open"]) == (2, "0.00")
    assert source.find("invoice", "F404") is None


def test_the_fingerprint_is_stable_until_a_file_changes(tmp_path: Path) -> None:
    source = FilesSource(tmp_path)
    absent = source.fingerprint()  # no files yet: no error, just a state
    write(tmp_path, "invoices.csv", f"{INVOICE_HEADER}\n{INVOICE}\n")
    first = source.fingerprint()
    assert first != absent
    assert source.fingerprint() == first
    write(tmp_path, "invoices.csv", f"{INVOICE_HEADER}\n{INVOICE}\n{INVOICE}\n")
    assert source.fingerprint() != first


def test_the_fingerprint_notices_a_same_size_replacement(tmp_path: Path) -> None:
    source = FilesSource(tmp_path)
    path = write(tmp_path, "customers.csv", "a")
    before = source.fingerprint()
    replacement = write(tmp_path, "new.csv", "b")
    replacement.replace(path)
    assert source.fingerprint() != before


def test_the_fingerprint_of_a_missing_directory_does_not_raise(tmp_path: Path) -> None:
    assert len(FilesSource(tmp_path / "nowhere").fingerprint()) == 64


# Protocol and open_source -----------------------------------------------------------------------


def test_files_and_demo_sources_are_sources(tmp_path: Path) -> None:
    assert isinstance(FilesSource(tmp_path), Source)
    assert isinstance(DemoSource(1, today=date(2026, 3, 2)), Source)


def test_open_source_understands_files_and_demo_specs(tmp_path: Path) -> None:
    files = open_source(f"files:{tmp_path}")
    assert isinstance(files, FilesSource) and files.directory == tmp_path
    demo = open_source("demo:42")
    assert isinstance(demo, DemoSource) and demo.seed == 42


@pytest.mark.parametrize(
    "spec", ["", "files", "files:", "demo", "demo:", "demo:abc", "demo:-1", "ftp://host/x", "s3:b"]
)
def test_open_source_refuses_anything_else_in_one_line(spec: str) -> None:
    with pytest.raises(ValueError) as caught:
        open_source(spec)
    message = str(caught.value)
    assert "\n" not in message
    assert "files:/path/to/dir" in message and "demo:SEED" in message


# Streaming and arbitrary input ------------------------------------------------------------------


def test_reading_60000_generated_invoices_keeps_memory_small(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("large")
    counts = write_export(directory, 5, customers=2_000, invoices=60_000, today=date(2026, 3, 2))
    assert counts["invoice"] == 60_000
    source = FilesSource(directory)
    tracemalloc.start()
    try:
        seen = sum(1 for _ in source.invoices())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 60_000  # held whole, these rows would take tens of MB
    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=400))
def test_arbitrary_bytes_either_yield_rows_or_raise_source_error(
    tmp_path: Path, content: bytes
) -> None:
    write(tmp_path, "invoices.csv", content)
    try:
        rows = list(FilesSource(tmp_path).invoices())
    except SourceError as error:
        assert "\n" not in str(error)
    else:
        assert all(tuple(r.data) == COLUMNS["invoice"] for r in rows)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from(
        [b"", INVOICE_HEADER.encode() + b"\n", INVOICE_HEADER.encode() + b"\r\n"]
    ),
    body=st.lists(
        st.sampled_from([b",", b'"', b"\n", b"\r", b"a", b"\xc3", b"\xa9", b"\x00", b" ", b"\xef"]),
        max_size=60,
    ),
)
def test_csv_shaped_noise_either_yields_rows_or_raises_source_error(
    tmp_path: Path, prefix: bytes, body: list[bytes]
) -> None:
    write(tmp_path, "invoices.csv", prefix + b"".join(body))
    try:
        list(FilesSource(tmp_path).invoices())
    except SourceError as error:
        assert "\n" not in str(error)


_VALUE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.lists(_VALUE, min_size=9, max_size=9), max_size=6))
def test_whatever_csv_writer_writes_reads_back_unchanged(
    tmp_path: Path, values: list[list[str]]
) -> None:
    with open(tmp_path / "invoices.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS["invoice"])
        writer.writerows(values)
    rows = list(FilesSource(tmp_path).invoices())
    assert [list(r.data.values()) for r in rows] == values
