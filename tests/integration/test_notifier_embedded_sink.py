"""The embedded SMTP sink that `creditflow up` starts when CREDITFLOW_SMTP_URL is unset keeps
what the notifier sends."""

from __future__ import annotations

import mailbox
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from services.notifier.compose import Notice, compose
from services.notifier.mailer import Mailer
from shared.embedded import SmtpSink


async def test_the_embedded_sink_keeps_every_email_the_notifier_sends(tmp_path: Path) -> None:
    notice = Notice(
        "reminder", 1, "en", "Acme", "Jan", "jan@example.nl", "F1", date(2027, 1, 1),
        date(2027, 2, 1), "EUR", Decimal("10"), Decimal("10"),
    )  # fmt: skip
    message = compose(
        notice, sender="x@example.nl", message_id="<m1@example.nl>", now=datetime.now(UTC)
    )
    for _ in range(2):  # a second start finds the maildir of the first
        sink = SmtpSink(tmp_path / "home" / "mail").start()
        try:
            async with Mailer(sink.url).session() as session:
                await session.send(message)
        finally:
            sink.stop()
    kept = list(mailbox.Maildir(tmp_path / "home" / "mail", create=False))
    assert [m["Message-ID"] for m in kept] == ["<m1@example.nl>", "<m1@example.nl>"]
