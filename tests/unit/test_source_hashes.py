"""The source hashes that let an unchanged record skip validation (staging.source_hashes)."""

from __future__ import annotations

from services.validator.staging import source_hashes
from shared.messages import RawRecord


def hashed(entity: str, line: int = 2, **data: str) -> tuple[str, str] | None:
    return source_hashes([RawRecord(entity=entity, line=line, data=data)])[0]


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
