"""The synthetic export generator and the demo source built on it."""

from __future__ import annotations

import re
import tracemalloc
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from stdnum.be import vat as be_vat
from stdnum.de import vat as de_vat
from stdnum.nl import btw as nl_vat

from services.importer.sources import (
    COLUMNS,
    DemoSource,
    FilesSource,
    SyntheticExport,
    generate,
    write_export,
)
from services.importer.sources.generator import (
    BLOCK,
    PAYMENT_CONDITIONS,
    be_vat_number,
    de_vat_number,
    main,
    nl_vat_number,
)

TODAY = date(2026, 3, 2)
TERMS = {code: term for code, _, term, _, _ in PAYMENT_CONDITIONS}
POSTAL_CODE = {
    "NL": re.compile(r"[1-9][0-9]{3} (?!SA|SD|SS)[A-Z]{2}"),
    "BE": re.compile(r"[1-9][0-9]{3}"),
    "DE": re.compile(r"[0-9]{5}"),
}
EMAIL = re.compile(r"[a-z0-9.]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")
AMOUNT = re.compile(r"-?[0-9]+\.[0-9]{2}")
VAT_CHECK = {"NL": nl_vat.is_valid, "BE": be_vat.is_valid, "DE": de_vat.is_valid}


def customer_problems(row: dict[str, str]) -> list[str]:
    """An independent, deliberately simple reading of DESIGN section 7 for customers."""
    problems = [
        f"required:{f}" for f in ("name", "email", "street", "postal_code", "city") if not row[f]
    ]
    if row["email"] and not EMAIL.fullmatch(row["email"]):
        problems.append("invalid_email")
    if row["country"] not in POSTAL_CODE:
        problems.append("invalid_country")
    elif row["postal_code"] and not POSTAL_CODE[row["country"]].fullmatch(row["postal_code"]):
        problems.append("invalid_postal_code")
    return problems


def invoice_problems(row: dict[str, str], customers: set[str], conditions: set[str]) -> list[str]:
    problems = []
    try:
        invoice_date = date.fromisoformat(row["invoice_date"])
        due_date = date.fromisoformat(row["due_date"])
    except ValueError:
        problems.append("invalid_date")
    else:
        if due_date < invoice_date:
            problems.append("due_before_invoice")
    if row["currency"] not in {"EUR", "USD", "GBP", "CHF"}:
        problems.append("invalid_currency")
    if not (AMOUNT.fullmatch(row["amount_total"]) and AMOUNT.fullmatch(row["amount_open"])):
        problems.append("invalid_amount")
    elif abs(float(row["amount_open"])) > abs(float(row["amount_total"])):
        problems.append("open_exceeds_total")
    if row["customer_number"] not in customers:
        problems.append("unknown_customer")
    if row["payment_condition"] not in conditions:
        problems.append("unknown_payment_condition")
    return problems


def build(seed: int = 11, **options: object) -> tuple[list[dict[str, str]], ...]:
    options = {"customers": 2_000, "invoices": 20_000, "today": TODAY} | options
    conditions, customers, invoices = generate(seed, **options)  # type: ignore[arg-type]
    return list(conditions), list(customers), list(invoices)


@pytest.fixture(scope="module")
def export() -> tuple[list[dict[str, str]], ...]:
    return build()


# Determinism ------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_export() -> None:
    assert build(5, customers=300, invoices=2_500) == build(5, customers=300, invoices=2_500)


def test_a_different_seed_gives_a_different_export() -> None:
    _, customers_a, invoices_a = build(5, customers=300, invoices=2_500)
    _, customers_b, invoices_b = build(6, customers=300, invoices=2_500)
    assert customers_a != customers_b and invoices_a != invoices_b


def test_a_record_can_be_regenerated_alone_from_its_index() -> None:
    export = SyntheticExport(3, customers=2_500, invoices=2_500, today=TODAY)
    invoices = list(export.invoice_rows())
    customers = list(export.customer_rows())
    for index in (0, 1, BLOCK - 1, BLOCK, 2_499):
        assert export.invoice(index) == invoices[index]
        assert export.customer(index) == customers[index]
    with pytest.raises(IndexError):
        export.invoice(2_500)


def test_invoice_numbers_rise_with_invoice_dates(export: tuple[list[dict[str, str]], ...]) -> None:
    _, _, invoices = export
    dates = []
    for invoice in invoices:  # sorted by number
        try:
            dates.append(date.fromisoformat(invoice["invoice_date"]))
        except ValueError:  # a deliberately invalid date
            continue
    assert dates == sorted(dates)
    assert min(dates) >= TODAY - timedelta(days=365) and max(dates) < TODAY


# Shape ------------------------------------------------------------------------------------------


def test_every_row_has_exactly_the_design_columns_as_strings(
    export: tuple[list[dict[str, str]], ...],
) -> None:
    conditions, customers, invoices = export
    for entity, rows in (
        ("payment_condition", conditions),
        ("customer", customers),
        ("invoice", invoices),
    ):
        for row in rows:
            assert tuple(row) == COLUMNS[entity]  # type: ignore[index]
            assert all(isinstance(v, str) for v in row.values())


def test_payment_conditions_are_the_usual_codes(export: tuple[list[dict[str, str]], ...]) -> None:
    conditions, _, _ = export
    assert {c["code"] for c in conditions} == {"30D", "14D", "8D", "60D", "DIRECT"}
    assert {c["code"]: c["term_days"] for c in conditions}["DIRECT"] == "0"


def test_keys_are_unique(export: tuple[list[dict[str, str]], ...]) -> None:
    _, customers, invoices = export
    assert len({c["customer_number"] for c in customers}) == len(customers)
    assert len({i["invoice_number"] for i in invoices}) == len(invoices)


def test_invoices_refer_to_existing_customers_and_conditions_except_on_purpose(
    export: tuple[list[dict[str, str]], ...],
) -> None:
    conditions, customers, invoices = export
    numbers = {c["customer_number"] for c in customers}
    codes = {c["code"] for c in conditions}
    unknown_customers = [i for i in invoices if i["customer_number"] not in numbers]
    unknown_codes = [i for i in invoices if i["payment_condition"] not in codes]
    # Only the deliberate unknown_customer / unknown_payment_condition defects: a few dozen.
    assert 0 < len(unknown_customers) < 0.01 * len(invoices)
    assert 0 < len(unknown_codes) < 0.01 * len(invoices)


def test_a_clean_export_has_no_problem_at_all() -> None:
    conditions, customers, invoices = build(customers=1_500, invoices=15_000, invalid_ratio=0.0)
    numbers = {c["customer_number"] for c in customers}
    codes = {c["code"] for c in conditions}
    assert [p for c in customers for p in customer_problems(c)] == []
    assert [p for i in invoices for p in invoice_problems(i, numbers, codes)] == []
    for invoice in invoices:
        due = date.fromisoformat(invoice["invoice_date"]) + timedelta(
            days=TERMS[invoice["payment_condition"]]
        )
        assert invoice["due_date"] == due.isoformat()


def test_clean_contact_details_pass_real_validators() -> None:
    _, customers, _ = build(customers=3_000, invoices=0, invalid_ratio=0.0)
    for customer in customers:
        validate_email(customer["email"], check_deliverability=False)
        number = phonenumbers.parse(customer["phone"], customer["country"])
        assert phonenumbers.is_valid_number(number), customer["phone"]
        if customer["vat_number"]:
            assert VAT_CHECK[customer["country"]](customer["vat_number"]), customer["vat_number"]


def test_consumers_have_no_vat_number_and_companies_mostly_do(
    export: tuple[list[dict[str, str]], ...],
) -> None:
    _, customers, _ = export
    companies = [c for c in customers if any(w in c["name"] for w in ("B.V.", "GmbH", "BV", "SRL"))]
    assert sum(1 for c in companies if c["vat_number"]) > 0.9 * len(companies)
    without_vat = sum(1 for c in customers if not c["vat_number"])
    assert 0.2 < without_vat / len(customers) < 0.45


def test_countries_languages_and_cities_fit_together(
    export: tuple[list[dict[str, str]], ...],
) -> None:
    _, customers, _ = export
    countries = Counter(c["country"] for c in customers)
    assert {"NL", "BE", "DE"} <= set(countries)
    assert countries["NL"] > countries["BE"] > countries["DE"] * 0.8
    for c in customers:
        if c["city"] in ("Liège", "Namur", "Charleroi", "Mons") and c["language"] != "en":
            assert c["language"] == "fr"
        if c["city"] in ("München", "Köln") and c["language"] != "en":
            assert c["language"] == "de"


@pytest.mark.parametrize("make", [nl_vat_number, be_vat_number, de_vat_number])
def test_vat_numbers_carry_valid_check_digits(make: object) -> None:
    import random

    rng = random.Random(1)
    numbers = [make(rng) for _ in range(500)]  # type: ignore[operator]
    country = numbers[0][:2]
    assert all(VAT_CHECK[country](n) for n in numbers)


# Ratios -----------------------------------------------------------------------------------------


def test_ratios_come_out_roughly_as_asked(export: tuple[list[dict[str, str]], ...]) -> None:
    conditions, customers, invoices = export
    numbers = {c["customer_number"] for c in customers}
    codes = {c["code"] for c in conditions}
    n = len(invoices)
    paid = sum(1 for i in invoices if i["amount_open"] == "0.00")
    credit_notes = [i for i in invoices if i["amount_total"].startswith("-")]
    partly = [
        i
        for i in invoices
        if i["amount_open"] not in ("0.00", i["amount_total"])
        and not invoice_problems(i, numbers, codes)
    ]
    bad_invoices = sum(1 for i in invoices if invoice_problems(i, numbers, codes))
    bad_customers = sum(1 for c in customers if customer_problems(c))
    assert 0.27 < paid / n < 0.33
    assert 0.02 < len(credit_notes) / n < 0.04
    assert all(c["amount_open"] == c["amount_total"] for c in credit_notes)  # open, negative
    assert 0.03 < len(partly) / n < 0.12
    assert 0.02 < bad_invoices / n < 0.04
    assert 0.015 < bad_customers / len(customers) < 0.045


def test_each_kind_of_defect_occurs(export: tuple[list[dict[str, str]], ...]) -> None:
    conditions, customers, invoices = export
    numbers = {c["customer_number"] for c in customers}
    codes = {c["code"] for c in conditions}
    invoice_kinds = Counter(p for i in invoices for p in invoice_problems(i, numbers, codes))
    customer_kinds = Counter(p for c in customers for p in customer_problems(c))
    assert set(invoice_kinds) == {
        "invalid_date",
        "due_before_invoice",
        "invalid_currency",
        "invalid_amount",
        "open_exceeds_total",
        "unknown_customer",
        "unknown_payment_condition",
    }
    assert {
        "invalid_email",
        "required:postal_code",
        "invalid_postal_code",
        "invalid_country",
    } <= set(customer_kinds)
    assert any(c["email"].endswith("@") for c in customers)
    assert any(i["currency"] == "EUX" for i in invoices)


def test_ratios_of_zero_and_one_are_honoured() -> None:
    _, _, invoices = build(customers=100, invoices=2_000, paid_ratio=0.0, credit_note_ratio=0.0)
    assert not any(i["amount_open"] == "0.00" for i in invoices)
    _, _, invoices = build(
        customers=100, invoices=2_000, paid_ratio=1.0, credit_note_ratio=0.0, invalid_ratio=0.0
    )
    assert all(i["amount_open"] == "0.00" for i in invoices)


@pytest.mark.parametrize(
    "options",
    [
        {"invalid_ratio": 1.5},
        {"paid_ratio": -0.1},
        {"customers": 0},
        {"invoices": -1},
        {"span_days": 0},
    ],
)
def test_impossible_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build(**options)


def test_generating_keeps_only_a_block_in_memory() -> None:
    # Held all at once, 12,000 invoices would take some 15 MB.
    export = SyntheticExport(2, customers=5_000, invoices=12_000, today=TODAY)
    tracemalloc.start()
    try:
        count = sum(1 for _ in export.invoice_rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 12_000
    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# Files ------------------------------------------------------------------------------------------


def test_a_written_export_round_trips_through_the_files_source(tmp_path: Path) -> None:
    counts = write_export(tmp_path, 8, customers=700, invoices=5_000, today=TODAY)
    assert counts == {"payment_condition": 5, "customer": 700, "invoice": 5_000}
    conditions, customers, invoices = build(8, customers=700, invoices=5_000)
    source = FilesSource(tmp_path)
    assert [r.data for r in source.payment_conditions()] == conditions
    assert [r.data for r in source.customers()] == customers
    read = list(source.invoices())
    assert [r.data for r in read] == invoices
    assert [r.line for r in read[:3]] == [2, 3, 4]  # no value spans lines


def test_writing_leaves_no_partial_files(tmp_path: Path) -> None:
    write_export(tmp_path, 1, customers=10, invoices=10, today=TODAY)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "customers.csv",
        "invoices.csv",
        "payment_conditions.csv",
    ]


def test_the_command_writes_an_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            str(tmp_path / "out"),
            "--customers",
            "20",
            "--invoices",
            "50",
            "--seed",
            "4",
            "--today",
            "2026-03-02",
        ]
    )
    assert status == 0
    assert "5 payment conditions, 20 customers and 50 invoices" in capsys.readouterr().out
    assert len(list(FilesSource(tmp_path / "out").invoices())) == 50


def test_the_command_refuses_bad_arguments_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path), "--customers", "0", "--invoices", "5"]) == 2
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path), "--customers", "many", "--invoices", "5"])
    assert exited.value.code == 2


# The demo ---------------------------------------------------------------------------------------


def test_the_demo_is_the_same_for_the_same_seed_and_day() -> None:
    first, second = DemoSource(7, today=TODAY), DemoSource(7, today=TODAY)
    assert list(first.invoices()) == list(second.invoices())
    assert list(first.customers()) == list(second.customers())
    assert first.fingerprint() == second.fingerprint()
    assert list(DemoSource(8, today=TODAY).customers()) != list(first.customers())


def test_the_demo_is_a_small_believable_ledger() -> None:
    demo = DemoSource(1, today=TODAY)
    customers = [r.data for r in demo.customers()]
    invoices = [r.data for r in demo.invoices()]
    assert len(customers) == 25 and len(invoices) == 60
    assert any(i["amount_total"].startswith("-") for i in invoices)
    assert any(i["amount_open"] == "0.00" for i in invoices)
    assert any(i["amount_open"] not in ("0.00", i["amount_total"]) for i in invoices)
    dates = [date.fromisoformat(i["invoice_date"]) for i in invoices]
    assert TODAY - timedelta(days=121) <= min(dates) and max(dates) < TODAY
    numbers = {c["customer_number"] for c in customers}
    assert all(i["customer_number"] in numbers for i in invoices)
    assert {i["payment_condition"] for i in invoices} <= set(TERMS)


@pytest.mark.parametrize("seed", range(40))
def test_the_demo_problems_sit_on_records_the_import_loads(seed: int) -> None:
    demo = DemoSource(seed, today=TODAY)
    customers = {r.data["customer_number"]: r.data for r in demo.customers()}
    invoices = {r.data["invoice_number"]: r.data for r in demo.invoices()}
    with_open_invoice = {
        i["customer_number"] for i in invoices.values() if i["amount_open"] != "0.00"
    }
    problems = demo.problems
    assert set(problems) >= {"invalid_email", "missing_postal_code", "due_before_invoice"}

    bad_email = customers[problems["invalid_email"]]
    assert bad_email["email"].endswith("@") and customer_problems(bad_email) == ["invalid_email"]
    no_postal_code = customers[problems["missing_postal_code"]]
    assert customer_problems(no_postal_code) == ["required:postal_code"]
    late = invoices[problems["due_before_invoice"]]
    assert late["due_date"] < late["invoice_date"] and late["amount_open"] != "0.00"
    # Reported on its own, not held back behind a customer error.
    assert late["customer_number"] not in (
        problems["invalid_email"],
        problems["missing_postal_code"],
    )
    for key in (problems["invalid_email"], problems["missing_postal_code"]):
        assert key in with_open_invoice
    if "invalid_vat" in problems:
        customer = customers[problems["invalid_vat"]]
        assert customer["customer_number"] in with_open_invoice
        assert not nl_vat.is_valid(customer["vat_number"])

    others = [c for k, c in customers.items() if k not in problems.values()]
    assert all(customer_problems(c) == [] for c in others)


def test_the_demo_answers_find_and_cannot_be_changed_by_callers() -> None:
    demo = DemoSource(3, today=TODAY)
    row = next(demo.customers())
    found = demo.find("customer", row.data["customer_number"])
    assert found == row
    row.data["name"] = "changed"
    assert next(demo.customers()).data["name"] != "changed"
    assert demo.find("invoice", "nope") is None


def test_the_demo_written_as_files_reads_back_the_same(tmp_path: Path) -> None:
    demo = DemoSource(4, today=TODAY)
    assert demo.write_files(tmp_path) == {"payment_condition": 5, "customer": 25, "invoice": 60}
    files = FilesSource(tmp_path)
    assert list(files.invoices()) == list(demo.invoices())
    assert list(files.customers()) == list(demo.customers())


def test_no_clean_demo_customer_fails_a_real_email_check() -> None:
    demo = DemoSource(2, today=TODAY)
    for row in demo.customers():
        if row.data["customer_number"] == demo.problems["invalid_email"]:
            with pytest.raises(EmailNotValidError):
                validate_email(row.data["email"], check_deliverability=False)
        else:
            validate_email(row.data["email"], check_deliverability=False)
