"""The validator's fast paths answer exactly as the full checks they stand in front of.

`_plainly_valid_email` may only accept what email_validator accepts, and `_invoice_is_clean`
must be true exactly when the full invoice checks find nothing, so that skipping the full
checks never changes a finding or its message."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.validator import rules

LABEL_CHARS = "abcXYZ019-"
SPECIAL = ["local", "localhost", "test", "invalid", "onion", "arpa", "home.arpa", "alt"]


def library_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


labels = st.one_of(
    st.text(LABEL_CHARS, min_size=0, max_size=8),
    st.sampled_from(["xn--", "ab--cd", "xn--nxasmq6b", "a" * 63, "b" * 64, "-a", "a-", "1"]),
)
domains = st.one_of(
    st.lists(labels, min_size=1, max_size=5).map(".".join),
    st.tuples(st.lists(labels, min_size=0, max_size=2), st.sampled_from(SPECIAL)).map(
        lambda parts: ".".join([*parts[0], parts[1]])
    ),
    st.integers(min_value=0, max_value=5).map(lambda n: ".".join(["a" * 63] * n + ["nl"])),
)
locals_ = st.one_of(
    st.text("abcXYZ019._+-", min_size=0, max_size=10),
    st.sampled_from([".a", "a.", "a..b", "a" * 64, "a" * 65, "x" * 200, "jan"]),
)
near_plain = st.tuples(
    st.lists(st.text("abXY09_+-", min_size=1, max_size=6), min_size=1, max_size=3).map(".".join),
    st.lists(st.text("abz09-", min_size=1, max_size=6), min_size=1, max_size=3),
    st.one_of(st.text("abcNL", min_size=1, max_size=4), st.sampled_from(SPECIAL)),
).map(lambda p: p[0] + "@" + ".".join([*p[1], p[2]]))
addresses = st.one_of(
    near_plain,
    st.tuples(locals_, domains).map("@".join),
    st.text("ab.@-_+1é ", max_size=16),
)


@settings(max_examples=2000, deadline=None)
@given(addresses)
@example("jan@example.local")
@example("jan@ab--cd.nl")
@example("jan@xn--nxasmq6b.com")
@example("jan@a.b" + "c" * 63)
@example("a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".nl")
@example("jan@localhost")
@example("jan@bakkerij.123")
def test_the_email_fast_path_accepts_only_what_the_library_accepts(address: str) -> None:
    if rules._plainly_valid_email(address):
        assert library_accepts(address), address


@pytest.mark.parametrize(
    "address",
    [
        "boekhouding@jansen-installatietechniek.nl",
        "Crediteuren.Admin+facturen@De-Vries-Bouw.co.uk",
        "info_2@x.be",
    ],
)
def test_common_addresses_take_the_fast_path(address: str) -> None:
    assert rules._plainly_valid_email(address)


def test_an_address_on_a_special_use_domain_still_gets_the_librarys_reason() -> None:
    assert not rules._plainly_valid_email("jan@shop.test")
    assert rules._email_problem("jan@shop.test") == rules._email_problem.__wrapped__(
        "jan@shop.test"
    )
    assert "special-use" in (rules._email_problem("jan@shop.test") or "")


values = {
    "invoice_number": st.sampled_from(["F1", " F2 ", "", "  "]),
    "customer_number": st.sampled_from(["C1", "", " "]),
    "invoice_date": st.sampled_from(
        ["2026-01-31", " 2026-02-28", "2026-02-29", "2024-02-29", "20260131", "", "2026-1-31"]
    ),
    "due_date": st.sampled_from(["2026-01-30", "2026-01-31", "2026-03-02 ", "31-01-2026", ""]),
    "currency": st.sampled_from(["EUR", "eur", " usd ", "EURO", "XXX", "", "€"]),
    "amount_total": st.sampled_from(
        ["100.00", "-100.00", "0", "100.5", "1,000.00", "1e3", "1000000000000.00", "", "99"]
    ),
    "amount_open": st.sampled_from(
        ["100.00", "-50.00", "0.00", "100.01", "50", "-0", "12.345", "", "999999999999.99"]
    ),
    "payment_condition": st.sampled_from(["30D", ""]),
    "description": st.sampled_from(["", "x"]),
}
# Rows with any field absent, None or odd, and rows close to clean (every field given, mostly
# well-formed), so that both answers of the fast path are well exercised.
rows = st.one_of(
    st.fixed_dictionaries(
        {}, optional={name: st.one_of(strategy, st.none()) for name, strategy in values.items()}
    ),
    st.fixed_dictionaries(
        {
            name: st.one_of(st.just(good), st.just(good), st.just(good), strategy)
            for (name, strategy), good in zip(
                values.items(),
                ["F1", "C1", "2026-01-31", "2026-03-02", "EUR", "100.00", "40.00", "30D", ""],
                strict=True,
            )
        }
    ),
)


@settings(max_examples=2000, deadline=None)
@given(rows)
@example(
    {
        "invoice_number": "F1",
        "customer_number": "C1",
        "invoice_date": "2026-01-31",
        "due_date": "2026-03-02 ",
        "currency": "eur",
        "amount_total": "100.00",
        "amount_open": "50",
    }
)
def test_an_invoice_is_clean_exactly_when_the_full_checks_find_nothing(
    row: dict[str, str | None],
) -> None:
    findings = rules._invoice_findings(row)
    assert rules._invoice_is_clean(row) == (findings == [])
    assert rules.validate_invoice(row) == findings  # type: ignore[arg-type]
