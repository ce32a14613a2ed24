"""Validation rules for imported master data: pure functions of raw source rows.

``validate_customer``, ``validate_invoice`` and ``validate_payment_condition`` take one row of
the accounting package's export (raw strings keyed by the column names of DESIGN section 6) and
return its findings (DESIGN section 7, rule R5): an ``error`` keeps the record from loading, a
``warning`` is only reported. ``describe`` words the bookkeeper's message for every code of
section 7, including the cross-record codes detected elsewhere, and ``fix_hint`` says what to
change in the accounting package. No I/O happens here.

Conventions:
- A missing column, ``None`` and an empty or blank value all mean "not given". Leading and
  trailing whitespace is ignored when checking, but ``Finding.value`` keeps the source text.
- A finding that only follows from another one is not reported: no ``due_before_invoice`` when a
  date is invalid, no ``open_exceeds_total`` when an amount is invalid, no postal-code or
  national-phone check against a country code that is itself invalid.
- Country, currency and language codes are compared case-insensitively (``nl`` is the
  Netherlands); consumers normalise them (``.upper()``/``.lower()``) before use.

Extensions to DESIGN section 7 (documented here and in ``CODE_SEVERITY``):
- ``invalid_language`` (warning): the customer's language is not an ISO 639-1 code.
- ``invalid_amount`` also rejects amounts above 999,999,999,999.99, which would not fit the
  database's ``numeric(14, 2)``.
- Postal-code formats are known for more countries than the required ten (see
  ``_POSTAL_FORMATS``); other countries accept any non-empty postal code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from operator import itemgetter
from types import MappingProxyType, ModuleType
from typing import Final, Literal, TypeVar

import email_validator
import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.util import get_cc_module

__all__ = [
    "CODE_SEVERITY",
    "Finding",
    "Severity",
    "describe",
    "fix_hint",
    "validate_customer",
    "validate_invoice",
    "validate_payment_condition",
]

Severity = Literal["error", "warning"]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    field: str
    value: str
    severity: Severity
    message: str


#: Every code this module knows, with the severity it carries. Cross-record codes are detected
#: by the validator service, but their severity and wording live here too.
CODE_SEVERITY: Final[Mapping[str, Severity]] = MappingProxyType(
    {
        "required": "error",
        "invalid_email": "error",
        "invalid_country": "error",
        "invalid_postal_code": "error",
        "invalid_vat": "warning",
        "invalid_phone": "warning",
        "invalid_language": "warning",
        "invalid_date": "error",
        "due_before_invoice": "error",
        "invalid_amount": "error",
        "open_exceeds_total": "error",
        "invalid_currency": "error",
        "invalid_term": "error",
        "unknown_customer": "error",
        "unknown_payment_condition": "error",
        "duplicate_key": "error",
        "no_dunning_plan": "error",
        "immutable_field_changed": "warning",
    }
)

DEFAULT_COUNTRY: Final = "NL"

_CUSTOMER_REQUIRED: Final = ("customer_number", "name", "email", "street", "postal_code", "city")
_INVOICE_REQUIRED: Final = (
    "invoice_number",
    "customer_number",
    "invoice_date",
    "due_date",
    "currency",
    "amount_total",
    "amount_open",
)
_INVOICE_VALUES: Final = itemgetter(*_INVOICE_REQUIRED)
_PAYMENT_CONDITION_REQUIRED: Final = ("code", "term_days")
_KEY_FIELD: Final = {"customer": "customer_number", "invoice": "invoice_number"}

# Built once: pycountry's own lookups are linear scans with fuzzy fallbacks.
_COUNTRY_NAMES: Final[Mapping[str, str]] = {c.alpha_2: c.name for c in pycountry.countries}
_CURRENCY_CODES: Final = frozenset(c.alpha_3 for c in pycountry.currencies)
_LANGUAGE_CODES: Final = frozenset(
    code for lang in pycountry.languages if (code := getattr(lang, "alpha_2", None))
)
# Codes bookkeepers type instead of the alpha-2 one: alpha-3 codes, and the EU's own
# abbreviations that ISO 3166-1 reserves for other uses.
_COUNTRY_SUGGESTIONS: Final[Mapping[str, str]] = {
    **{c.alpha_3: c.alpha_2 for c in pycountry.countries},
    "UK": "GB",
    "EL": "GR",
}

# ASCII only: str.isdigit and \d accept digits of every script, which no format here allows.
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_AMOUNT: Final = re.compile(r"-?([0-9]+)(?:\.[0-9]{1,2})?", re.ASCII)
_MAX_AMOUNT_DIGITS: Final = 12  # numeric(14, 2)
_TERM: Final = re.compile(r"[0-9]+", re.ASCII)
_MAX_TERM_DAYS: Final = 365


def _postal(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII | re.IGNORECASE)


# country -> (pattern, an example the message can show)
_POSTAL_FORMATS: Final[Mapping[str, tuple[re.Pattern[str], str]]] = {
    "NL": (_postal(r"[1-9][0-9]{3} ?[A-Z]{2}"), "1234 AB"),
    "BE": (_postal(r"[1-9][0-9]{3}"), "1000"),
    "DE": (_postal(r"[0-9]{5}"), "10115"),
    "FR": (_postal(r"[0-9]{5}"), "75001"),
    "GB": (_postal(r"(?:GIR ?0AA|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})"), "SW1A 1AA"),
    # Luxembourg addresses customarily carry the "L-" prefix.
    "LU": (_postal(r"(?:L-?)?[0-9]{4}"), "L-1234"),
    "AT": (_postal(r"[1-9][0-9]{3}"), "1010"),
    "ES": (_postal(r"(?:0[1-9]|[1-4][0-9]|5[0-2])[0-9]{3}"), "28001"),
    "IT": (_postal(r"[0-9]{5}"), "00184"),
    "US": (_postal(r"[0-9]{5}(?:-[0-9]{4})?"), "90210"),
    "CH": (_postal(r"[1-9][0-9]{3}"), "8001"),
    "DK": (_postal(r"[0-9]{4}"), "1050"),
    "SE": (_postal(r"[1-9][0-9]{2} ?[0-9]{2}"), "114 55"),
    "NO": (_postal(r"[0-9]{4}"), "0150"),
    "FI": (_postal(r"[0-9]{5}"), "00100"),
    "PL": (_postal(r"[0-9]{2}-[0-9]{3}"), "00-950"),
    "PT": (_postal(r"[0-9]{4}-[0-9]{3}"), "1000-001"),
    "CA": (_postal(r"[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]"), "K1A 0B1"),
}

# ---------------------------------------------------------------------------------------------
# Row validation


class _Findings:
    """Collects one row's findings, wording each through describe()."""

    __slots__ = ("entity", "items", "key")

    def __init__(self, entity: str, key: str) -> None:
        self.entity = entity
        self.key = key
        self.items: list[Finding] = []

    def add(self, code: str, field: str, value: str, **context: str) -> None:
        message = describe(code, field, value, entity=self.entity, key=self.key, **context)
        self.items.append(Finding(code, field, value, CODE_SEVERITY[code], message))

    def require(self, row: Mapping[str, str | None], fields: tuple[str, ...]) -> None:
        for field in fields:
            value = _raw(row, field)
            if not value.strip():
                self.add("required", field, value)


def _raw(row: Mapping[str, str | None], field: str) -> str:
    # csv.DictReader fills short lines with None.
    value = row.get(field)
    return "" if value is None else value


def validate_customer(row: Mapping[str, str]) -> list[Finding]:
    """Findings for one customer row."""
    found = _Findings("customer", _raw(row, "customer_number").strip())
    found.require(row, _CUSTOMER_REQUIRED)

    email = _raw(row, "email")
    if email.strip() and (reason := _email_problem(email.strip())):
        found.add("invalid_email", "email", email, reason=reason)

    country_raw = _raw(row, "country")
    country_code = country_raw.strip().upper() or DEFAULT_COUNTRY
    country = country_code if country_code in _COUNTRY_NAMES else None
    if country is None:
        found.add("invalid_country", "country", country_raw, **_country_suggestion(country_code))

    postal_code = _raw(row, "postal_code")
    if country and postal_code.strip() and not _postal_code_fits(postal_code.strip(), country):
        found.add("invalid_postal_code", "postal_code", postal_code, country=country)

    language = _raw(row, "language")
    if language.strip() and language.strip().lower() not in _LANGUAGE_CODES:
        found.add("invalid_language", "language", language)

    vat_number = _raw(row, "vat_number")
    if vat_number.strip() and (reason := _vat_problem(vat_number.strip(), country)):
        found.add("invalid_vat", "vat_number", vat_number, reason=reason)

    phone = _raw(row, "phone")
    if phone.strip() and _phone_is_doubtful(phone.strip(), country):
        found.add("invalid_phone", "phone", phone, country=country or "")
    return found.items


def validate_invoice(row: Mapping[str, str]) -> list[Finding]:
    """Findings for one invoice row."""
    return [] if _invoice_is_clean(row) else _invoice_findings(row)


def _invoice_findings(row: Mapping[str, str | None]) -> list[Finding]:
    found = _Findings("invoice", _raw(row, "invoice_number").strip())
    found.require(row, _INVOICE_REQUIRED)

    invoice_date = _checked(found, row, "invoice_date", _parse_date, "invalid_date")
    due_date = _checked(found, row, "due_date", _parse_date, "invalid_date")
    if invoice_date and due_date and due_date < invoice_date:
        found.add(
            "due_before_invoice",
            "due_date",
            _raw(row, "due_date"),
            invoice_date=_raw(row, "invoice_date").strip(),
        )

    currency = _raw(row, "currency")
    if currency.strip() and currency.strip().upper() not in _CURRENCY_CODES:
        found.add("invalid_currency", "currency", currency)

    total = _checked(found, row, "amount_total", _parse_amount, "invalid_amount")
    open_ = _checked(found, row, "amount_open", _parse_amount, "invalid_amount")
    if total is not None and open_ is not None and _open_exceeds_total(open_, total):
        found.add(
            "open_exceeds_total",
            "amount_open",
            _raw(row, "amount_open"),
            amount_total=_raw(row, "amount_total").strip(),
        )
    return found.items


def _invoice_is_clean(row: Mapping[str, str | None]) -> bool:
    """True exactly when _invoice_findings finds nothing, judged in one pass.

    Most invoices are clean, and the full checks cost most in collecting and naming what is
    wrong. Any doubt answers False and the full checks decide (and word the findings)."""
    try:
        values = _INVOICE_VALUES(row)
        number, customer, invoice_date, due_date, currency, total, open_ = [
            value.strip() for value in values
        ]
    except (KeyError, AttributeError):  # a column missing, or None from a short csv line
        return False
    if not (number and customer and currency.upper() in _CURRENCY_CODES):
        return False
    invoiced = _cached_date(invoice_date)
    due = _cached_date(due_date)
    if invoiced is None or due is None or due < invoiced:
        return False
    total_amount = _parse_amount(total) if total else None
    open_amount = _parse_amount(open_) if open_ else None
    if total_amount is None or open_amount is None:
        return False
    return not _open_exceeds_total(open_amount, total_amount)


def validate_payment_condition(row: Mapping[str, str]) -> list[Finding]:
    """Findings for one payment-condition row."""
    found = _Findings("payment_condition", _raw(row, "code").strip())
    found.require(row, _PAYMENT_CONDITION_REQUIRED)
    _checked(found, row, "term_days", _parse_term, "invalid_term")
    return found.items


def _checked(
    found: _Findings,
    row: Mapping[str, str | None],
    field: str,
    parse: Callable[[str], _T | None],
    code: str,
) -> _T | None:
    """Parse a given field, recording `code` when it does not parse; None when absent or bad."""
    value = _raw(row, field)
    text = value.strip()
    if not text:
        return None
    parsed = parse(text)
    if parsed is None:
        found.add(code, field, value)
    return parsed


# ---------------------------------------------------------------------------------------------
# Single-value checks


def _parse_date(text: str) -> date | None:
    # date.fromisoformat alone would also take "20261231" and week dates.
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _cached_date(text: str) -> date | None:
    # Invoice and due dates repeat across a ledger: a few hundred distinct values.
    return _parse_date(text) if text else None


def _parse_amount(text: str) -> Decimal | None:
    match = _AMOUNT.fullmatch(text)
    if match is None or len(match[1].lstrip("0")) > _MAX_AMOUNT_DIGITS:
        return None
    return Decimal(text)


def _parse_term(text: str) -> int | None:
    # The length guard keeps int() away from Python's limit on very long digit strings.
    if not _TERM.fullmatch(text) or len(text.lstrip("0")) > 3:
        return None
    days = int(text)
    return days if days <= _MAX_TERM_DAYS else None


def _open_exceeds_total(open_: Decimal, total: Decimal) -> bool:
    # Credit notes carry a negative total and a negative open amount.
    opposite_sign = open_ != 0 and total != 0 and (open_ < 0) != (total < 0)
    return opposite_sign or abs(open_) > abs(total)


def _postal_code_fits(postal_code: str, country: str) -> bool:
    known = _POSTAL_FORMATS.get(country)
    return known is None or known[0].fullmatch(postal_code) is not None


def _country_suggestion(country: str) -> dict[str, str]:
    suggestion = _COUNTRY_SUGGESTIONS.get(country)
    return {"suggestion": suggestion} if suggestion else {}


# The library checks are the slow part of a row (tens of microseconds each). Daily imports see
# the same addresses again and again, so a bounded cache makes repeat runs cheap.
_CACHE_SIZE: Final = 1 << 17  # ~15 MB per cache when full; fits a 100k-customer ledger


# An address the library is sure to accept, in the form nearly every address has: ASCII
# dot-atom before the @-sign, letters/digits/inner hyphens in each label after it (no "--", so
# no Punycode or reserved R-LDH label) and a top-level domain of letters. Lengths and the
# special-use names are checked in _plainly_valid_email; anything else goes to the library.
_PLAIN_EMAIL: Final = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@((?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)+[A-Za-z]+)",
    re.ASCII,
)
_EMAIL_MAX_LENGTH: Final = 254
_DOMAIN_MAX_LENGTH: Final = 253
_DNS_LABEL_MAX_LENGTH: Final = 63


def _plainly_valid_email(address: str) -> bool:
    """True only for addresses validate_email accepts: its domain checks (UTS-46 mapping per
    character, IDNA) cost some 60 microseconds an address and cannot fail on these."""
    match = _PLAIN_EMAIL.fullmatch(address)
    if match is None or len(address) > _EMAIL_MAX_LENGTH:
        return False
    domain = match[1].lower()
    if len(domain) > _DOMAIN_MAX_LENGTH:
        return False
    if any(len(label) > _DNS_LABEL_MAX_LENGTH for label in domain.split(".")):
        return False
    return not any(
        domain == name or domain.endswith("." + name)
        for name in email_validator.SPECIAL_USE_DOMAIN_NAMES
    )


@lru_cache(maxsize=_CACHE_SIZE)
def _email_problem(address: str) -> str | None:
    if _plainly_valid_email(address):
        return None
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=_CACHE_SIZE)
def _phone_is_doubtful(number: str, country: str | None) -> bool:
    # Without a valid country only an international number (+..) can be judged; a national
    # one would just repeat the invalid_country error.
    if country is None and not number.startswith("+"):
        return False
    region = country if country in phonenumbers.SUPPORTED_REGIONS else None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return True
    return not phonenumbers.is_valid_number(parsed)


@lru_cache(maxsize=_CACHE_SIZE)
def _vat_problem(number: str, country: str | None) -> str | None:
    """Why a VAT number looks wrong, or None when valid or when no check is known for it."""
    prefix = number[:2].upper()
    if prefix.isascii() and prefix.isalpha():
        if prefix.lower() in eu_vat.MEMBER_STATES or prefix == "EL":
            return _stdnum_problem(eu_vat, number)
        if module := _national_vat_module(prefix):
            return _stdnum_problem(module, number)
    # No recognised prefix: judge it by the customer's own country, if stdnum knows it.
    if country and (module := _national_vat_module(country)):
        return _stdnum_problem(module, number)
    return None


@cache
def _national_vat_module(country: str) -> ModuleType | None:
    module = get_cc_module(country.lower(), "vat")
    return module if isinstance(module, ModuleType) else None


def _stdnum_problem(module: ModuleType, number: str) -> str | None:
    try:
        module.validate(number)
    except StdnumValidationError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------------------------
# Messages

_WITHOUT_KEY: Final = {
    "customer": "a customer without a customer number",
    "invoice": "an invoice without an invoice number",
    "payment_condition": "a payment condition without a code",
}
_FIELD_WORDS: Final = {
    "customer_number": "customer number",
    "email": "e-mail address",
    "phone": "phone number",
    "postal_code": "postal code",
    "country": "country code",
    "language": "language code",
    "vat_number": "VAT number",
    "changed_at": "change date",
    "invoice_number": "invoice number",
    "invoice_date": "invoice date",
    "due_date": "due date",
    "currency": "currency code",
    "amount_total": "total amount",
    "amount_open": "open amount",
    "payment_condition": "payment condition",
    "term_days": "payment term",
}
# Country names that read wrongly without an article ("for Netherlands").
_WITH_ARTICLE: Final = frozenset({"NL", "US", "GB", "AE", "PH", "DO", "CF", "BS", "GM", "VA"})
_MAX_SHOWN: Final = 60


@dataclass(frozen=True, slots=True)
class _Subject:
    """The words a message is built from."""

    code: str
    field: str  # in words
    value: str  # quoted for display
    raw: str  # stripped, for messages that depend on what the value is
    record: str  # "customer C1001"
    entity: str  # in words
    context: Mapping[str, str]

    def quoted(self, name: str) -> str:
        return _quote(self.context.get(name, ""))


def describe(code: str, field: str, value: str, *, entity: str, **context: str) -> str:
    """The bookkeeper's message for a finding of any code of DESIGN section 7.

    `context` may carry `key` (the record's key) and code-specific details: `reason`
    (invalid_email, invalid_vat), `country` (invalid_postal_code, invalid_phone), `suggestion`
    (invalid_country), `invoice_date` (due_before_invoice), `amount_total` (open_exceeds_total),
    `customer_number` (unknown_customer), `payment_condition` (unknown_payment_condition; both
    default to `value`), `count` (duplicate_key) and `loaded`
    (immutable_field_changed). Unknown codes get a generic sentence rather than an exception.
    """
    key = context.get("key", "").strip()
    words = _entity_words(entity) or "record"
    subject = _Subject(
        code=code,
        field=_FIELD_WORDS.get(field, field.replace("_", " ")),
        value=_quote(value),
        raw=value.strip(),
        record=f"{words} {_shown(key)}" if key else _WITHOUT_KEY.get(entity, f"a {words}"),
        entity=words,
        context=context,
    )
    if code == "required":
        return _required_message(subject, field == _key_field(entity), value)
    return _MESSAGES.get(code, _generic_message)(subject)


def _required_message(s: _Subject, is_key: bool, value: str) -> str:
    if is_key and not s.context.get("key", "").strip():
        article = "An" if s.entity[:1] in ("a", "e", "i", "o", "u") else "A"
        return f"{article} {s.entity} in the export has no {s.field}."
    blank = " (it contains only spaces)" if value and not value.strip() else ""
    return f"The {s.field} of {s.record} is missing{blank}."


def _postal_code_message(s: _Subject) -> str:
    country = s.context.get("country", "")
    known = _POSTAL_FORMATS.get(country)
    expected = f" (expected something like '{known[1]}')" if known else ""
    where = f" for {_country_phrase(country)}" if country else ""
    return f"The postal code {s.value} of {s.record} is not a valid postal code{where}{expected}."


def _phone_message(s: _Subject) -> str:
    country = s.context.get("country", "")
    national = country and not s.raw.startswith("+")
    where = f" in {_country_phrase(country)}" if national else ""
    return f"The phone number {s.value} of {s.record} does not look like a valid number{where}."


def _country_message(s: _Subject) -> str:
    suggestion = s.context.get("suggestion")
    hint = f" Did you mean {suggestion}?" if suggestion else ""
    return (
        f"The country code {s.value} of {s.record} is not a valid ISO country code "
        f"(two letters, such as NL or BE).{hint}"
    )


def _amount_message(s: _Subject) -> str:
    if _AMOUNT.fullmatch(s.raw):
        return f"The {s.field} {s.value} of {s.record} is too large to be a real amount."
    return (
        f"The {s.field} {s.value} of {s.record} is not a valid amount; use a point for decimals, "
        f"at most two decimals and no thousands separators, e.g. 1234.50."
    )


def _open_amount_message(s: _Subject) -> str:
    total = s.quoted("amount_total")
    if _opposite_signs(s.raw, s.context.get("amount_total", "").strip()):
        return (
            f"The open amount {s.value} of {s.record} has the opposite sign of its total "
            f"amount {total}; a credit note has a negative total and a negative open amount."
        )
    return f"The open amount {s.value} of {s.record} is larger than its total amount {total}."


def _opposite_signs(open_: str, total: str) -> bool:
    if not (_AMOUNT.fullmatch(open_) and _AMOUNT.fullmatch(total)):
        return False
    open_amount, total_amount = Decimal(open_), Decimal(total)
    return open_amount != 0 and total_amount != 0 and (open_amount < 0) != (total_amount < 0)


def _unknown_customer_message(s: _Subject) -> str:
    customer = s.quoted("customer_number") if "customer_number" in s.context else s.value
    return _capitalised(
        f"{s.record} refers to customer {customer}, "
        f"which is not in the accounting package's customer export."
    )


def _unknown_condition_message(s: _Subject) -> str:
    condition = s.quoted("payment_condition") if "payment_condition" in s.context else s.value
    return _capitalised(
        f"{s.record} has payment condition {condition}, "
        f"which is not in the accounting package's list of payment conditions."
    )


def _no_plan_message(s: _Subject) -> str:
    condition = s.value if s.raw else s.quoted("key")
    return (
        f"Payment condition {condition} has no dunning plan and there is no default plan, "
        f"so its invoices would get no reminders."
    )


def _immutable_message(s: _Subject) -> str:
    loaded = s.quoted("loaded")
    return (
        f"The {s.field} of {s.record} changed from {loaded} to {s.value} in the accounting "
        f"package, but it cannot change once the {s.entity} is loaded, so {loaded} is kept."
    )


def _duplicate_message(s: _Subject) -> str:
    count = s.context.get("count", "")
    times = f"{count} times" if count else "more than once"
    return (
        f"The {s.field} {s.value} occurs {times} in the {s.entity} export, "
        f"so it is not clear which {s.entity} is meant."
    )


def _generic_message(s: _Subject) -> str:
    return f"The {s.field} {s.value} of {s.record} is not valid ({s.code})."


_MESSAGES: Final[Mapping[str, Callable[[_Subject], str]]] = {
    "invalid_email": lambda s: (
        f"The e-mail address {s.value} of {s.record} is not valid: "
        f"{_clause(s.context.get('reason', ''))}"
    ),
    "invalid_country": _country_message,
    "invalid_postal_code": _postal_code_message,
    "invalid_vat": lambda s: (
        f"The VAT number {s.value} of {s.record} does not look valid: "
        f"{_clause(s.context.get('reason', ''))}"
    ),
    "invalid_phone": _phone_message,
    "invalid_language": lambda s: (
        f"The language code {s.value} of {s.record} is not a valid ISO language code "
        f"(two letters, such as nl or en)."
    ),
    "invalid_date": lambda s: (
        f"The {s.field} {s.value} of {s.record} is not a valid date; "
        f"use the form YYYY-MM-DD, e.g. 2026-12-31."
    ),
    "due_before_invoice": lambda s: (
        f"The due date {s.value} of {s.record} is before its invoice date"
        + (f" {s.quoted('invoice_date')}." if "invoice_date" in s.context else ".")
    ),
    "invalid_amount": _amount_message,
    "open_exceeds_total": _open_amount_message,
    "invalid_currency": lambda s: (
        f"The currency code {s.value} of {s.record} is not a valid ISO currency code "
        f"(three letters, such as EUR or USD)."
    ),
    "invalid_term": lambda s: (
        f"The payment term {s.value} of {s.record} is not valid; "
        f"it must be a whole number of days from 0 to 365."
    ),
    "unknown_customer": _unknown_customer_message,
    "unknown_payment_condition": _unknown_condition_message,
    "duplicate_key": _duplicate_message,
    "no_dunning_plan": _no_plan_message,
    "immutable_field_changed": _immutable_message,
}

_HINTS: Final = {
    "required": "Fill in the {field} of this {entity} in your accounting package.",
    "invalid_email": (
        "Correct the e-mail address of this customer in your accounting package to one "
        "complete address, such as name@example.com."
    ),
    "invalid_country": (
        "Set the country of this customer to a two-letter ISO code such as NL, BE or DE "
        "(GB for the United Kingdom), or leave it empty for the Netherlands."
    ),
    "invalid_postal_code": (
        "Correct the postal code of this customer in your accounting package, or its country "
        "if the address is abroad."
    ),
    "invalid_vat": (
        "Check the VAT number with the customer and enter it in your accounting package "
        "with its country prefix, such as NL123456789B01."
    ),
    "invalid_phone": (
        "Correct the phone number of this customer in your accounting package, preferably in "
        "international form such as +31 20 123 4567."
    ),
    "invalid_language": (
        "Set the language of this customer to a two-letter code such as nl, en or de in your "
        "accounting package, or leave it empty."
    ),
    "invalid_date": (
        "Enter the {field} of this invoice as an existing calendar date in your accounting package."
    ),
    "due_before_invoice": (
        "Correct the due date or the invoice date in your accounting package so that the "
        "due date is on or after the invoice date."
    ),
    "invalid_amount": (
        "Correct the {field} of this invoice in your accounting package and export amounts "
        "with a point for decimals and no thousands separators, such as 1234.50."
    ),
    "open_exceeds_total": (
        "Check the payments booked on this invoice in your accounting package: the open "
        "amount may not exceed the total amount or have the opposite sign."
    ),
    "invalid_currency": (
        "Set the currency of this invoice to a three-letter ISO code such as EUR "
        "in your accounting package."
    ),
    "invalid_term": (
        "Set the payment term of this payment condition to a whole number of days "
        "from 0 to 365 in your accounting package."
    ),
    "unknown_customer": (
        "Correct the customer number on this invoice, or make sure that customer exists "
        "in your accounting package and is included in its export."
    ),
    "unknown_payment_condition": (
        "Give this invoice an existing payment condition, or add the payment condition "
        "to your accounting package."
    ),
    "duplicate_key": "Give every {entity} its own {field} in your accounting package.",
    "no_dunning_plan": (
        "Nothing needs to change in your accounting package: set up a dunning plan for this "
        "payment condition, or a default plan, in creditflow."
    ),
    "immutable_field_changed": (
        "Restore the original {field} in your accounting package, or credit this invoice "
        "and book a new one if the change is intended."
    ),
}


def fix_hint(code: str, entity: str, field: str) -> str:
    """One sentence telling the bookkeeper what to change in the accounting package."""
    template = _HINTS.get(code, "Correct the {field} of this {entity} in your accounting package.")
    return template.format(
        field=_FIELD_WORDS.get(field, field.replace("_", " ")), entity=_entity_words(entity)
    )


def _entity_words(entity: str) -> str:
    return entity.replace("_", " ")


def _key_field(entity: str) -> str:
    return _KEY_FIELD.get(entity, "code")


def _country_phrase(country: str) -> str:
    name = _COUNTRY_NAMES.get(country, country)
    return f"the {name}" if country in _WITH_ARTICLE else name


def _shown(text: str) -> str:
    """A value as a message can show it: trimmed, on one line, not overly long."""
    text = text.strip()
    if not text.isprintable():
        text = "".join(char if char.isprintable() else " " for char in text)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def _quote(text: str) -> str:
    shown = _shown(text)
    return f"'{shown}'" if shown else "(empty)"


def _clause(reason: str) -> str:
    """A library's reason as the end of our sentence."""
    reason = reason.strip() or "it has the wrong form."
    if reason[1:2].islower():
        reason = reason[0].lower() + reason[1:]
    return reason if reason.endswith((".", "!", "?")) else reason + "."


def _capitalised(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]
