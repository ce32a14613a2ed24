"""The caught mail: read from the embedded sink's maildir, per administration, newest first."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

from services.dashboard.mail import ADMINISTRATION_HEADER, read_mail


def _deliver(maildir: Path, admin: str | None, subject: str, date: str) -> None:
    message = EmailMessage()
    message["From"] = "creditflow <noreply@creditflow.local>"
    message["To"] = "jan@example.nl"
    message["Subject"] = subject
    message["Date"] = date
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@creditflow>"
    if admin is not None:
        message[ADMINISTRATION_HEADER] = admin
    message.set_content(f"Body of {subject}\nDear customer, <script>alert(1)</script>")
    mailbox.Maildir(maildir, create=True).add(message)


def test_no_maildir_means_no_mail_section(tmp_path: Path) -> None:
    assert read_mail(tmp_path / "mail", "acme") is None


def test_only_the_administrations_own_mail_is_read_newest_first(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    _deliver(maildir, "acme", "Invoice F1", "Tue, 01 Dec 2026 09:00:00 +0000")
    _deliver(maildir, "acme", "Reminder F1", "Thu, 03 Dec 2026 09:00:00 +0000")
    _deliver(maildir, "other", "Invoice X9", "Wed, 02 Dec 2026 09:00:00 +0000")
    _deliver(maildir, None, "Unattributed", "Wed, 02 Dec 2026 10:00:00 +0000")

    mail = read_mail(maildir, "acme")

    assert mail is not None
    assert [m.subject for m in mail] == ["Reminder F1", "Invoice F1"]
    assert mail[0].to == "jan@example.nl"
    assert mail[0].body.startswith("Body of Reminder F1")
    assert read_mail(maildir, "nobody") == []


def test_mail_is_attributed_by_the_message_ids_of_the_administrations_notifications(
    tmp_path: Path,
) -> None:
    maildir = tmp_path / "mail"
    _deliver(maildir, None, "Reminder F1", "Thu, 03 Dec 2026 09:00:00 +0000")
    _deliver(maildir, None, "Reminder X9", "Thu, 03 Dec 2026 10:00:00 +0000")

    mail = read_mail(maildir, "acme", {"<Reminder-F1@creditflow>"})

    assert [m.subject for m in mail or []] == ["Reminder F1"]
    assert read_mail(maildir, "other", {"<Other@creditflow>"}) == []


def test_encoded_subjects_and_bodies_are_shown_decoded(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    _deliver(
        maildir,
        "acme",
        "Eerste herinnering: factuur 2026-001, € 121,00 — vervallen",
        "Thu, 03 Dec 2026 09:00:00 +0000",
    )
    (mail,) = read_mail(maildir, "acme") or []
    assert mail.subject == "Eerste herinnering: factuur 2026-001, € 121,00 — vervallen"
