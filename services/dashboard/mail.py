"""The mail caught by the embedded SMTP sink (`$CREDITFLOW_HOME/mail`, a maildir).

Only shown when the maildir exists (that is, with the embedded sink). A message belongs to an
administration when its Message-ID is one the notifier recorded for that administration's
notifications, or when it carries an `X-Creditflow-Administration` header naming it (for
other senders); any other message is shown on no administration's page.
"""

from __future__ import annotations

import mailbox
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import default
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


def read_mail(
    maildir: Path,
    administration_id: str,
    message_ids: Collection[str] = (),
    *,
    limit: int = 50,
) -> list[CaughtMail] | None:
    """This administration's caught mail, newest first; None when there is no maildir.
    `message_ids`: the Message-IDs of this administration's notifications."""
    if not maildir.is_dir():
        return None
    if not all((maildir / sub).is_dir() for sub in ("new", "cur")):
        return []  # nothing delivered yet
    box = mailbox.Maildir(maildir, create=False)
    ours = set(message_ids)
    found: list[CaughtMail] = []
    for key in box.iterkeys():
        try:
            with box.get_file(key) as handle:
                headers = BytesHeaderParser(policy=default).parse(handle)  # type: ignore[arg-type]
            if not _belongs(headers, administration_id, ours):
                continue
            with box.get_file(key) as handle:
                message = BytesParser(policy=default).parse(handle)  # type: ignore[arg-type]
        except (OSError, KeyError):
            continue  # delivered or removed while we looked
        found.append(_caught(message))
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda m: m.sent_at or epoch, reverse=True)
    return found[:limit]


def _belongs(headers: Message, administration_id: str, message_ids: set[str]) -> bool:
    if str(headers.get("Message-ID", "")).strip() in message_ids:
        return True
    return str(headers.get(ADMINISTRATION_HEADER, "")).strip() == administration_id


def _caught(message: EmailMessage) -> CaughtMail:
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


def _text(message: EmailMessage) -> str:
    """The plain-text body, decoded."""
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        payload = body.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
