"""The mail caught by the embedded SMTP sink (`$CREDITFLOW_HOME/mail`, a maildir).

Only shown when the maildir exists (that is, with the embedded sink). A message belongs to an
administration by its `X-Creditflow-Administration` header, which the notifier sets; a
message without it is shown on no administration's page.
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

__all__ = ["ADMINISTRATION_HEADER", "CaughtMail", "read_mail"]

ADMINISTRATION_HEADER = "X-Creditflow-Administration"
MAX_BODY = 4000


@dataclass(frozen=True)
class CaughtMail:
    message_id: str
    sent_at: datetime | None
    sender: str
    to: str
    subject: str
    body: str


def read_mail(maildir: Path, administration_id: str, *, limit: int = 50) -> list[CaughtMail] | None:
    """This administration's caught mail, newest first; None when there is no maildir."""
    if not maildir.is_dir():
        return None
    if not all((maildir / sub).is_dir() for sub in ("new", "cur")):
        return []  # nothing delivered yet
    box = mailbox.Maildir(maildir, create=False)
    found: list[CaughtMail] = []
    for key in box.iterkeys():
        try:
            message = box.get_message(key)
        except (OSError, KeyError):
            continue  # delivered or removed while we looked
        if (message.get(ADMINISTRATION_HEADER) or "").strip() != administration_id:
            continue
        found.append(_caught(message))
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda m: m.sent_at or epoch, reverse=True)
    return found[:limit]


def _caught(message: Message) -> CaughtMail:
    return CaughtMail(
        message_id=str(message.get("Message-ID", "")),
        sent_at=_date(message.get("Date")),
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        body=_text(message)[:MAX_BODY],
    )


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(message: Message) -> str:
    """The first text/plain part, decoded."""
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                charset = part.get_content_charset() or "utf-8"
                return payload.decode(charset, errors="replace")
    return ""
