"""Mail sent to the embedded SMTP sink over a real socket is what the dashboard shows."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.dashboard.mail import ADMINISTRATION_HEADER, read_mail
from shared.embedded import SmtpSink

pytestmark = pytest.mark.integration


def test_mail_caught_by_the_embedded_sink_is_read_for_its_administration(tmp_path: Path) -> None:
    maildir = tmp_path / "home" / "mail"
    maildir.mkdir(parents=True)  # `up` finds the directory of an earlier run
    sink = SmtpSink(maildir).start()
    try:
        assert read_mail(maildir, "acme") == []
        message = EmailMessage()
        message["From"] = "creditflow <noreply@creditflow.local>"
        message["To"] = "jan@example.nl"
        message["Subject"] = "Herinnering factuur F1"
        message[ADMINISTRATION_HEADER] = "acme"
        message.set_content("Geachte heer Jansen,")
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
            smtp.send_message(message)
    finally:
        sink.stop()
    (caught,) = read_mail(maildir, "acme") or []
    assert caught.subject == "Herinnering factuur F1"
    assert caught.body.strip() == "Geachte heer Jansen,"
    assert read_mail(maildir, "other") == []
