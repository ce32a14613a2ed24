"""Unit tests for the validator's pure rules (services/validator/rules.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.validator.rules import (
    CODE_SEVERITY,
    Finding,
    describe,
    fix_hint,
    validate_customer,
    validate_invoice,
    validate_payment_condition,
)

CUSTOMER_COLUMNS = (
    "customer_number,name,email,phone,street,postal_code,city,country,language,vat_number,changed_at"
).split(",")
INVOICE_COLUMNS = (
    "invoice_number,customer_number,invoice_date,due_date,currency,amount_total,amount_open,"
    "payment_condition,description"
).split(",")
PAYMENT_CONDITION_COLUMNS = ["code", "description", "term_days"]

# DESIGN section 7, the contract: every code with its severity.
DESIGN_CODES = {
    ("customer", "required"): "error",
    ("customer", "invalid_email"): "error",
    ("customer", "invalid_country"): "error",
    ("customer", "invalid_postal_code"): "error",
    ("customer", "duplicate_key"): "error",
    ("customer", "invalid_vat"): "warning",
    ("customer", "invalid_phone"): "warning",
    ("invoice", "required"): "error",
    ("invoice", "invalid_date"): "error",
    ("invoice", "due_before_invoice"): "error",
    ("invoice", "invalid_amount"): "error",
    ("invoice", "open_exceeds_total"): "error",
    ("invoice", "invalid_currency"): "error",
    ("invoice", "unknown_customer"): "error",
    ("invoice", "unknown_payment_condition"): "error",
    ("invoice", "duplicate_key"): "error",
    ("invoice", "immutable_field_changed"): "warning",
    ("payment_condition", "required"): "error",
    ("payment_condition", "invalid_term"): "error",
    ("payment_condition", "no_dunning_plan"): "error",
}


def customer(**changes: str) -> dict[str, str]:
    row = {
        "customer_number": "C1001",
        "name": "Bakkerij Jansen B.V.",
        "email": "administratie@bakkerij-jansen.nl",
        "phone": "020 123 4567",
        "street": "Dorpsstraat 12",
        "postal_code": "1234 AB",
        "city": "Amsterdam",
        "country": "NL",
        "language": "nl",
        "vat_number": "NL004495445B01",
        "changed_at": "2026-11-30T10:15:00",
    }
    row.update(changes)
    return row


def invoice(**changes: str) -> dict[str, str]:
    row = {
        "invoice_number": "F2026-0001",
        "customer_number": "C1001",
        "invoice_date": "2026-11-01",
        "due_date": "2026-12-01",
        "currency": "EUR",
        "amount_total": "1210.00",
        "amount_open": "605.50",
        "payment_condition": "30D",
        "description": "Broodjes november",
    }
    row.update(changes)
    return row


def payment_condition(**changes: str) -> dict[str, str]:
    row = {"code": "30D", "description": "30 dagen netto", "term_days": "30"}
    row.update(changes)
    return row


def codes(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.code, f.field) for f in findings}


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, findings
    return matching[0]


# --- complete records ----------------------------------------------------------------------------


def test_a_complete_customer_has_no_findings() -> None:
    assert validate_customer(customer()) == []


def test_a_complete_invoice_has_no_findings() -> None:
    assert validate_invoice(invoice()) == []


def test_a_complete_payment_condition_has_no_findings() -> None:
    assert validate_payment_condition(payment_condition()) == []


def test_a_customer_without_the_optional_fields_is_valid() -> None:
    row = customer(phone="", country="", language="", vat_number="", changed_at="")
    assert validate_customer(row) == []


# --- required ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["customer_number", "name", "email", "street", "postal_code", "city"]
)
@pytest.mark.parametrize("missing", ["", "   ", None])
def test_a_customer_without_a_required_field_is_an_error(field: str, missing: str | None) -> None:
    row = customer()
    if missing is None:
        del row[field]
    else:
        row[field] = missing
    assert codes(validate_customer(row)) == {("required", field)}
    assert only(validate_customer(row), "required").severity == "error"


@pytest.mark.parametrize("field", ["phone", "country", "language", "vat_number", "changed_at"])
def test_a_customer_without_an_optional_field_is_valid(field: str) -> None:
    row = customer()
    del row[field]
    assert validate_customer(row) == []


@pytest.mark.parametrize(
    "field",
    [
        "invoice_number",
        "customer_number",
        "invoice_date",
        "due_date",
        "currency",
        "amount_total",
        "amount_open",
    ],
)
def test_an_invoice_without_a_required_field_is_an_error(field: str) -> None:
    assert codes(validate_invoice(invoice(**{field: " "}))) == {("required", field)}


def test_an_invoice_without_payment_condition_or_description_is_valid() -> None:
    assert validate_invoice(invoice(payment_condition="", description="")) == []


@pytest.mark.parametrize("field", ["code", "term_days"])
def test_a_payment_condition_without_a_required_field_is_an_error(field: str) -> None:
    assert codes(validate_payment_condition(payment_condition(**{field: ""}))) == {
        ("required", field)
    }


def test_a_none_value_from_a_short_csv_line_counts_as_missing() -> None:
    row: dict[str, str | None] = {**customer(), "city": None, "phone": None}
    assert codes(validate_customer(row)) == {("required", "city")}  # type: ignore[arg-type]


def test_a_record_without_its_key_is_reported_without_a_key() -> None:
    finding = only(validate_invoice(invoice(invoice_number="")), "required")
    assert finding.message == "An invoice in the export has no invoice number."


# --- customer checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["jan@", "jan", "jan@localhost", "jan @example.nl", "a@b@c.nl"])
def test_an_incomplete_e_mail_address_is_an_error(email: str) -> None:
    finding = only(validate_customer(customer(email=email)), "invalid_email")
    assert (finding.field, finding.value, finding.severity) == ("email", email, "error")


@pytest.mark.parametrize("email", ["jan@example.nl", "J.de.Vries+facturen@Example.COM"])
def test_a_complete_e_mail_address_is_valid(email: str) -> None:
    assert validate_customer(customer(email=email)) == []


def test_a_list_of_e_mail_addresses_is_not_one_valid_address() -> None:
    row = customer(email="a@example.nl; b@example.nl")
    assert codes(validate_customer(row)) == {("invalid_email", "email")}


@pytest.mark.parametrize("country", ["XX", "Nederland", "N"])
def test_an_unknown_country_code_is_an_error(country: str) -> None:
    finding = only(validate_customer(customer(country=country)), "invalid_country")
    assert (finding.field, finding.value, finding.severity) == ("country", country, "error")


@pytest.mark.parametrize(("typed", "meant"), [("UK", "GB"), ("NLD", "NL"), ("EL", "GR")])
def test_a_near_miss_country_code_suggests_the_iso_code(typed: str, meant: str) -> None:
    finding = only(validate_customer(customer(country=typed)), "invalid_country")
    assert f"Did you mean {meant}?" in finding.message


@pytest.mark.parametrize("country", ["BE", "be", " DE "])
def test_a_valid_country_code_is_accepted_in_any_case(country: str) -> None:
    row = customer(country=country, postal_code="1000" if "B" in country.upper() else "10115")
    assert validate_customer(row | {"phone": "", "vat_number": ""}) == []


def test_an_empty_country_means_the_netherlands() -> None:
    assert validate_customer(customer(country="")) == []
    assert codes(validate_customer(customer(country="", postal_code="12345"))) == {
        ("invalid_postal_code", "postal_code")
    }


POSTAL_CODES = [
    ("NL", "1234 AB", "0123 AB"),
    ("NL", "1234ab", "1234 A"),
    ("BE", "1000", "10000"),
    ("DE", "10115", "1011"),
    ("FR", "75001", "7500A"),
    ("GB", "SW1A 1AA", "12345"),
    ("GB", "M1 1AE", "M1"),
    ("LU", "L-1234", "12345"),
    ("LU", "1234", "L-123"),
    ("AT", "1010", "01010"),
    ("ES", "28001", "60001"),
    ("IT", "00184", "0018"),
    ("US", "90210", "9021"),
    ("US", "90210-1234", "90210-12"),
]


@pytest.mark.parametrize(("country", "good", "bad"), POSTAL_CODES)
def test_a_postal_code_is_checked_against_its_country(country: str, good: str, bad: str) -> None:
    base = customer(country=country, phone="", vat_number="")
    assert validate_customer(base | {"postal_code": good}) == []
    finding = only(validate_customer(base | {"postal_code": bad}), "invalid_postal_code")
    assert (finding.value, finding.severity) == (bad, "error")


def test_a_country_without_a_known_postal_format_accepts_any_postal_code() -> None:
    row = customer(country="BR", postal_code="anything at all", phone="", vat_number="")
    assert validate_customer(row) == []


def test_a_postal_code_is_not_judged_against_an_invalid_country() -> None:
    row = customer(country="XX", postal_code="?")
    assert codes(validate_customer(row)) == {("invalid_country", "country")}


@pytest.mark.parametrize("vat", ["NL123", "NL004495446B01", "123", "BE0403170702"])
def test_an_invalid_vat_number_is_a_warning(vat: str) -> None:
    finding = only(validate_customer(customer(vat_number=vat)), "invalid_vat")
    assert (finding.field, finding.value, finding.severity) == ("vat_number", vat, "warning")


@pytest.mark.parametrize("vat", ["NL004495445B01", "NL 0044.95.445.B01", "BE0403170701"])
def test_a_valid_vat_number_is_accepted(vat: str) -> None:
    assert validate_customer(customer(vat_number=vat)) == []


def test_a_vat_number_without_prefix_is_checked_against_the_customers_country() -> None:
    assert validate_customer(customer(vat_number="004495445B01")) == []
    assert codes(validate_customer(customer(vat_number="004495446B01"))) == {
        ("invalid_vat", "vat_number")
    }


def test_a_vat_number_is_not_judged_where_no_check_is_known() -> None:
    row = customer(country="US", postal_code="90210", phone="", vat_number="12-3456789")
    assert validate_customer(row) == []


@pytest.mark.parametrize("phone", ["12345", "020 12", "call me", "+31 99 999"])
def test_a_doubtful_phone_number_is_a_warning(phone: str) -> None:
    finding = only(validate_customer(customer(phone=phone)), "invalid_phone")
    assert (finding.field, finding.value, finding.severity) == ("phone", phone, "warning")


@pytest.mark.parametrize("phone", ["020 123 4567", "06-12345678", "+32 2 555 12 12"])
def test_a_real_phone_number_is_accepted(phone: str) -> None:
    assert validate_customer(customer(phone=phone)) == []


def test_a_phone_number_is_read_in_the_customers_country() -> None:
    belgian = customer(country="BE", postal_code="1000", vat_number="", phone="02 555 12 12")
    assert validate_customer(belgian) == []


def test_a_national_phone_number_is_not_judged_against_an_invalid_country() -> None:
    row = customer(country="XX", phone="020 123 4567")
    assert codes(validate_customer(row)) == {("invalid_country", "country")}


@pytest.mark.parametrize("language", ["xx", "dutch", "nl-BE"])
def test_an_unknown_language_is_a_warning(language: str) -> None:
    finding = only(validate_customer(customer(language=language)), "invalid_language")
    assert (finding.field, finding.severity) == ("language", "warning")


@pytest.mark.parametrize("language", ["nl", "EN", " de "])
def test_a_two_letter_language_code_is_accepted(language: str) -> None:
    assert validate_customer(customer(language=language)) == []


# --- invoice checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2026-02-30", "20261101", "01-11-2026", "2026-1-1", "morgen"])
@pytest.mark.parametrize("field", ["invoice_date", "due_date"])
def test_a_date_that_is_not_an_iso_calendar_date_is_an_error(field: str, value: str) -> None:
    row = invoice(**{field: value})
    assert codes(validate_invoice(row)) == {("invalid_date", field)}


def test_a_leap_day_is_a_valid_date() -> None:
    assert validate_invoice(invoice(invoice_date="2024-02-29", due_date="2024-03-30")) == []


def test_a_due_date_before_the_invoice_date_is_an_error() -> None:
    finding = only(validate_invoice(invoice(due_date="2026-10-31")), "due_before_invoice")
    assert (finding.field, finding.value, finding.severity) == ("due_date", "2026-10-31", "error")
    assert "'2026-11-01'" in finding.message


def test_a_due_date_on_the_invoice_date_is_valid() -> None:
    assert validate_invoice(invoice(due_date="2026-11-01")) == []


@pytest.mark.parametrize(
    "amount", ["1,000.00", "1.000,00", "12,50", "1.234", "€ 12.50", "1e3", "+12.50", "12.", ".5"]
)
@pytest.mark.parametrize("field", ["amount_total", "amount_open"])
def test_an_amount_not_written_as_a_plain_decimal_is_an_error(field: str, amount: str) -> None:
    row = invoice(**{field: amount})
    assert codes(validate_invoice(row)) == {("invalid_amount", field)}


@pytest.mark.parametrize("amount", ["1210", "1210.0", "1210.00", "0001210.00"])
def test_an_amount_with_at_most_two_decimals_is_valid(amount: str) -> None:
    assert validate_invoice(invoice(amount_total=amount)) == []


def test_an_amount_too_large_for_the_ledger_is_an_error() -> None:
    row = invoice(amount_total="1000000000000.00")
    finding = only(validate_invoice(row), "invalid_amount")
    assert "too large" in finding.message
    assert validate_invoice(invoice(amount_total="999999999999.99")) == []


def test_an_open_amount_larger_than_the_total_is_an_error() -> None:
    finding = only(validate_invoice(invoice(amount_open="1210.01")), "open_exceeds_total")
    assert (finding.field, finding.value, finding.severity) == ("amount_open", "1210.01", "error")


def test_a_fully_open_invoice_is_valid() -> None:
    assert validate_invoice(invoice(amount_open="1210")) == []


def test_a_credit_note_with_a_negative_open_amount_is_valid() -> None:
    assert validate_invoice(invoice(amount_total="-250.00", amount_open="-100.00")) == []


def test_a_credit_note_with_a_positive_open_amount_is_an_error() -> None:
    row = invoice(amount_total="-250.00", amount_open="100.00")
    finding = only(validate_invoice(row), "open_exceeds_total")
    assert "opposite sign" in finding.message


def test_an_invoice_with_a_negative_open_amount_is_an_error() -> None:
    row = invoice(amount_total="250.00", amount_open="-0.01")
    assert codes(validate_invoice(row)) == {("open_exceeds_total", "amount_open")}


def test_a_paid_invoice_or_credit_note_with_zero_open_is_valid() -> None:
    assert validate_invoice(invoice(amount_open="0.00")) == []
    assert validate_invoice(invoice(amount_total="-5", amount_open="-0.00")) == []


def test_an_open_amount_on_a_zero_total_is_an_error() -> None:
    row = invoice(amount_total="0.00", amount_open="1.00")
    assert codes(validate_invoice(row)) == {("open_exceeds_total", "amount_open")}


@pytest.mark.parametrize("currency", ["EURO", "XYZ", "€", "E"])
def test_an_unknown_currency_code_is_an_error(currency: str) -> None:
    finding = only(validate_invoice(invoice(currency=currency)), "invalid_currency")
    assert (finding.field, finding.value, finding.severity) == ("currency", currency, "error")


@pytest.mark.parametrize("currency", ["EUR", "usd", " GBP "])
def test_an_iso_currency_code_is_valid_in_any_case(currency: str) -> None:
    assert validate_invoice(invoice(currency=currency)) == []


def test_an_empty_currency_is_required_not_invalid() -> None:
    assert codes(validate_invoice(invoice(currency=""))) == {("required", "currency")}


# --- payment condition checks --------------------------------------------------------------------


@pytest.mark.parametrize("term", ["366", "-1", "30.0", "thirty", "14 days", "1" * 5000, "٣٠"])
def test_a_term_that_is_not_a_whole_number_of_days_up_to_a_year_is_an_error(term: str) -> None:
    finding = only(validate_payment_condition(payment_condition(term_days=term)), "invalid_term")
    assert (finding.field, finding.value, finding.severity) == ("term_days", term, "error")


@pytest.mark.parametrize("term", ["0", "14", "365", "030"])
def test_a_term_from_zero_to_365_days_is_valid(term: str) -> None:
    assert validate_payment_condition(payment_condition(term_days=term)) == []


# --- derived errors, duplicates, whitespace ------------------------------------------------------


def test_an_invalid_date_does_not_also_report_due_before_invoice() -> None:
    row = invoice(invoice_date="2026-13-01", due_date="2026-01-01")
    assert codes(validate_invoice(row)) == {("invalid_date", "invoice_date")}


def test_a_missing_date_does_not_also_report_due_before_invoice() -> None:
    assert codes(validate_invoice(invoice(invoice_date=""))) == {("required", "invoice_date")}


def test_an_invalid_amount_does_not_also_report_open_exceeds_total() -> None:
    row = invoice(amount_total="1,00", amount_open="99999.00")
    assert codes(validate_invoice(row)) == {("invalid_amount", "amount_total")}


def test_a_missing_value_is_required_and_not_also_invalid() -> None:
    findings = validate_invoice(invoice(amount_open="", due_date="  "))
    assert codes(findings) == {("required", "amount_open"), ("required", "due_date")}


def test_each_code_is_reported_once_per_field() -> None:
    row = invoice(invoice_date="x", due_date="y", amount_total="a", amount_open="b", currency="?")
    findings = validate_invoice(row)
    assert len(findings) == len(codes(findings)) == 5


def test_surrounding_whitespace_is_not_an_error() -> None:
    padded = {key: f"  {value}\t" for key, value in customer().items()}
    assert validate_customer(padded) == []
    padded = {key: f" {value} " for key, value in invoice().items()}
    assert validate_invoice(padded) == []
    assert validate_payment_condition({"code": " 30D ", "term_days": " 30 "}) == []


def test_a_finding_reports_the_value_as_it_stood_in_the_source() -> None:
    finding = only(validate_customer(customer(email="  jan@ ")), "invalid_email")
    assert finding.value == "  jan@ "
    assert "'jan@'" in finding.message


def test_several_problems_in_one_row_are_all_reported() -> None:
    row = customer(email="jan@", country="XX", phone="+31 1", vat_number="NL1", language="zz")
    assert codes(validate_customer(row)) == {
        ("invalid_email", "email"),
        ("invalid_country", "country"),
        ("invalid_vat", "vat_number"),
        ("invalid_phone", "phone"),
        ("invalid_language", "language"),
    }


# --- messages ------------------------------------------------------------------------------------


def test_every_design_code_has_its_contract_severity() -> None:
    for (_, code), severity in DESIGN_CODES.items():
        assert CODE_SEVERITY[code] == severity


CONTEXT = {
    "unknown_customer": {"customer_number": "C9999"},
    "duplicate_key": {"count": "3"},
    "immutable_field_changed": {"loaded": "2026-12-01"},
    "due_before_invoice": {"invoice_date": "2026-11-01"},
    "open_exceeds_total": {"amount_total": "100.00"},
    "invalid_postal_code": {"country": "NL"},
    "invalid_phone": {"country": "NL"},
    "invalid_email": {"reason": "There must be something after the @-sign."},
}
FIELD_OF = {
    "required": ("name", "name"),
    "invalid_email": ("email", "e-mail address"),
    "invalid_country": ("country", "country"),
    "invalid_postal_code": ("postal_code", "postal code"),
    "duplicate_key": ("customer_number", "customer number"),
    "invalid_vat": ("vat_number", "VAT number"),
    "invalid_phone": ("phone", "phone number"),
    "invalid_date": ("invoice_date", "invoice date"),
    "due_before_invoice": ("due_date", "due date"),
    "invalid_amount": ("amount_total", "total amount"),
    "open_exceeds_total": ("amount_open", "open amount"),
    "invalid_currency": ("currency", "currency"),
    "unknown_customer": ("customer_number", "customer"),
    "unknown_payment_condition": ("payment_condition", "payment condition"),
    "immutable_field_changed": ("due_date", "due date"),
    "invalid_term": ("term_days", "payment term"),
    "no_dunning_plan": ("code", "dunning plan"),
}


@pytest.mark.parametrize(("entity", "code"), sorted(DESIGN_CODES))
def test_describe_names_the_field_and_quotes_the_value_for_every_design_code(
    entity: str, code: str
) -> None:
    field, words = FIELD_OF[code]
    value = "" if code == "required" else "X-17"
    context = {"key": "K1", **CONTEXT.get(code, {})}
    message = describe(code, field, value, entity=entity, **context)
    assert words in message
    if value:
        quoted = "'C9999'" if code == "unknown_customer" else "'X-17'"
        assert quoted in message
    assert message.endswith((".", "?"))
    assert "{" not in message and "None" not in message


def test_describe_gives_a_concrete_e_mail_message() -> None:
    message = describe(
        "invalid_email",
        "email",
        "jan@",
        entity="customer",
        key="C1001",
        reason="There must be something after the @-sign.",
    )
    assert message == (
        "The e-mail address 'jan@' of customer C1001 is not valid: "
        "there must be something after the @-sign."
    )


def test_describe_words_cross_record_codes_with_their_context() -> None:
    assert describe(
        "duplicate_key", "invoice_number", "F1", entity="invoice", key="F1", count="2"
    ) == (
        "The invoice number 'F1' occurs 2 times in the invoice export, "
        "so it is not clear which invoice is meant."
    )
    assert "changed from '2026-12-01' to '2026-12-15'" in describe(
        "immutable_field_changed", "due_date", "2026-12-15", entity="invoice", loaded="2026-12-01"
    )
    assert "Payment condition '14D' has no dunning plan" in describe(
        "no_dunning_plan", "code", "14D", entity="payment_condition", key="14D"
    )


def test_describe_does_not_fail_on_an_unknown_code_or_odd_value() -> None:
    message = describe("brand_new_code", "some_field", "a\nb" + "x" * 500, entity="ledger")
    assert "brand_new_code" in message and "\n" not in message and len(message) < 200


def test_findings_take_their_message_from_describe() -> None:
    finding = only(validate_invoice(invoice(currency="EURO")), "invalid_currency")
    expected = describe("invalid_currency", "currency", "EURO", entity="invoice", key="F2026-0001")
    assert finding.message == expected


@pytest.mark.parametrize("code", sorted(CODE_SEVERITY))
def test_every_code_has_a_one_sentence_fix_hint(code: str) -> None:
    entity = "payment_condition" if code in ("invalid_term", "no_dunning_plan") else "invoice"
    hint = fix_hint(code, entity, "due_date")
    assert hint.endswith(".") and hint.count(". ") == 0
    assert "{" not in hint and "_" not in hint


def test_a_fix_hint_names_the_field_and_entity_in_words() -> None:
    hint = fix_hint("required", "payment_condition", "term_days")
    assert hint == "Fill in the payment term of this payment condition in your accounting package."


# --- properties ----------------------------------------------------------------------------------

PLAUSIBLE = st.sampled_from(
    [
        "",
        " ",
        "NL",
        "xx",
        "2026-02-29",
        "2024-02-29",
        "-12.50",
        "0",
        "1.234",
        "+31 20 123 4567",
        "jan@example.nl",
        "NL004495445B01",
        "1234 AB",
        "L-1234",
        "365",
        "EUR",
        "UK",
    ]
)
VALUES = st.one_of(st.text(max_size=40), PLAUSIBLE, st.from_regex(r"-?[0-9]{1,16}(\.[0-9]{0,3})?"))


def rows(columns: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.one_of(st.sampled_from(columns), st.text(max_size=5)), VALUES)


def assert_well_formed(findings: object, row: dict[str, str]) -> None:
    assert isinstance(findings, list)
    seen = set()
    for finding in findings:
        assert isinstance(finding, Finding)
        assert finding.severity == CODE_SEVERITY[finding.code]
        assert finding.value == row.get(finding.field, "")
        assert finding.message
        assert (finding.code, finding.field) not in seen
        seen.add((finding.code, finding.field))


@settings(max_examples=200, deadline=None)
@given(rows(CUSTOMER_COLUMNS))
def test_any_customer_row_gives_findings_and_never_raises(row: dict[str, str]) -> None:
    assert_well_formed(validate_customer(row), row)


@settings(max_examples=200, deadline=None)
@given(rows(INVOICE_COLUMNS))
def test_any_invoice_row_gives_findings_and_never_raises(row: dict[str, str]) -> None:
    assert_well_formed(validate_invoice(row), row)


@settings(max_examples=200, deadline=None)
@given(rows(PAYMENT_CONDITION_COLUMNS))
def test_any_payment_condition_row_gives_findings_and_never_raises(row: dict[str, str]) -> None:
    assert_well_formed(validate_payment_condition(row), row)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(CUSTOMER_COLUMNS), st.text()))
def test_whitespace_around_customer_values_never_changes_the_findings(row: dict[str, str]) -> None:
    padded = {key: f" {value}\t" for key, value in row.items()}
    assert codes(validate_customer(padded)) == codes(validate_customer(row))
