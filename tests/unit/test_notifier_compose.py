"""E-mails rendered from the templates: what each kind says, in Dutch and English."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.notifier.compose import Notice, compose, money, render, spoken_date
from services.notifier.mailer import SmtpTarget

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
KINDS = [("invoice", 0), ("reminder", 1), ("reminder", 2), ("final_notice", 3)]


def _notice(
    kind: str = "reminder", level: int = 1, language: str = "nl", **changes: object
) -> Notice:
    values: dict[str, object] = {
        "kind": kind,
        "level": level,
        "language": language,
        "administration_name": "Acme Trading B.V.",
        "customer_name": "Bakkerij De Korenschoof",
        "recipient": "administratie@korenschoof.nl",
        "invoice_number": "F2027-0042",
        "invoice_date": date(2027, 2, 1),
        "due_date": date(2027, 3, 3),
        "currency": "EUR",
        "amount_total": Decimal("1512.50"),
        "amount_open": Decimal("1210.00"),
        "description": "Meel en gist",
    }
    values.update(changes)
    return Notice(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize(("kind", "level"), KINDS)
def test_subject_and_bodies_name_the_invoice_the_amount_open_and_the_due_date(
    kind: str, level: int, language: str
) -> None:
    subject, text, html = render(_notice(kind, level, language))
    amount = "€ 1.210,00" if language == "nl" else "€1,210.00"
    due = "3 maart 2027" if language == "nl" else "3 March 2027"
    for part in (subject, text, html):
        assert "F2027-0042" in part
        assert amount in part
        assert due in part


def test_reminders_say_which_reminder_they_are() -> None:
    assert render(_notice("reminder", 1))[0].startswith("Eerste herinnering")
    assert render(_notice("reminder", 2))[0].startswith("Tweede herinnering")
    assert render(_notice("reminder", 2, "en"))[0].startswith("Second reminder")


def test_the_dutch_final_notice_is_the_14_day_letter_with_its_collection_costs() -> None:
    subject, text, html = render(_notice("final_notice", 3))
    assert "Laatste aanmaning" in subject and "14 dagen" in subject
    assert "binnen 14 dagen na de dag van ontvangst" in text
    assert "incassokosten verschuldigd van € 181,50" in text  # 15% of 1,210.00
    assert "<strong>binnen 14 dagen</strong>" in html


def test_the_english_final_notice_states_the_14_day_term_too() -> None:
    subject, text, _ = render(_notice("final_notice", 3, "en"))
    assert "Final notice" in subject and "14 days" in subject
    assert "within 14 days of the day you receive this notice" in text
    assert "collection costs of €181.50" in text


def test_only_the_final_notice_mentions_collection_costs() -> None:
    for kind, level in KINDS[:3]:
        _, text, _ = render(_notice(kind, level))
        assert "incassokosten" not in text


def test_names_from_the_source_are_shown_as_text_never_as_markup() -> None:
    _, text, html = render(_notice(customer_name="<script>alert(1)</script> & Zn"))
    assert "<script>alert(1)</script> & Zn" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Zn" in html
    assert "<script>" not in html


def test_the_message_has_a_text_and_an_html_part_and_the_given_message_id() -> None:
    message = compose(
        _notice(),
        sender="creditflow <noreply@mail.example.nl>",
        message_id="<creditflow.reminder.1.abc@mail.example.nl>",
        now=NOW,
    )
    received = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert received["Message-ID"] == "<creditflow.reminder.1.abc@mail.example.nl>"
    assert received["From"] == '"Acme Trading B.V." <noreply@mail.example.nl>'
    assert received["To"] == "Bakkerij De Korenschoof <administratie@korenschoof.nl>"
    assert received["Subject"] == render(_notice())[0]  # non-ASCII (€) survives encoding
    assert received["Content-Language"] == "nl"
    parts = list(received.iter_parts())  # type: ignore[attr-defined]
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert "€ 1.210,00" in parts[0].get_content() and "€ 1.210,00" in parts[1].get_content()


@pytest.mark.parametrize(
    "address", ["jan@", "@example.nl", "jan@localhost", "a b@example.nl", "a@b.nl\nBcc: x@y.nl"]
)
def test_an_address_that_cannot_be_used_is_refused_before_sending(address: str) -> None:
    with pytest.raises(ValueError, match=r"e-mail address|cannot have"):
        compose(_notice(recipient=address), sender="x@y.nl", message_id="<m@y.nl>", now=NOW)


def test_amounts_and_dates_are_written_the_way_each_language_writes_them() -> None:
    assert money(Decimal("1234567.5"), "EUR", "nl") == "€ 1.234.567,50"
    assert money(Decimal("1234567.5"), "EUR", "en") == "€1,234,567.50"
    assert money(Decimal("-25"), "EUR", "nl") == "€ -25,00"
    assert money(Decimal("99"), "CHF", "en") == "CHF 99.00"
    assert spoken_date(date(2027, 4, 27), "nl") == "27 april 2027"
    assert spoken_date(date(2027, 4, 27), "en") == "27 April 2027"


def test_the_smtp_url_is_read_and_its_password_never_printed() -> None:
    target = SmtpTarget.parse("smtps://mailer:s%40cret@smtp.example.nl")
    assert (target.host, target.port, target.use_tls) == ("smtp.example.nl", 465, True)
    assert (target.username, target.password) == ("mailer", "s@cret")
    assert "cret" not in repr(target)
    assert SmtpTarget.parse("smtp://127.0.0.1:2525").port == 2525
    with pytest.raises(ValueError, match="smtp://host:port"):
        SmtpTarget.parse("http://example.nl")
