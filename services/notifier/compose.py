"""E-mails from templates: a text and an HTML body per kind and language.

Templates live in services/notifier/templates/{nl,en}/{kind}.{txt,html}; each text template
sets `subject`. Subjects and bodies name the invoice number, the amount open and the due date;
the final notice states the 14-day term and the statutory collection costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache
from typing import Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.notifier.logic import Kind, collection_costs

__all__ = [
    "Notice",
    "checked_address",
    "compose",
    "money",
    "render",
    "sender_domain",
    "spoken_date",
]

Language = Literal["nl", "en"]

_MONTHS = {
    "nl": (
        "januari februari maart april mei juni juli augustus september oktober november december"
    ).split(),
    "en": (
        "January February March April May June July August September October November December"
    ).split(),
}
_ORDINALS = {
    "nl": ("eerste", "tweede", "derde", "vierde", "vijfde", "zesde", "zevende", "achtste"),
    "en": ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"),
}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


@dataclass(frozen=True, slots=True)
class Notice:
    """Everything one e-mail says."""

    kind: Kind
    level: int
    language: Language
    administration_name: str
    customer_name: str
    recipient: str
    invoice_number: str
    invoice_date: date
    due_date: date
    currency: str
    amount_total: Decimal
    amount_open: Decimal
    description: str | None = None


def money(amount: Decimal, currency: str, language: Language) -> str:
    """€ 1.234,56 in Dutch, €1,234.56 in English; other currencies by their code."""
    text = f"{abs(amount):,.2f}"
    if language == "nl":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    sign = "-" if amount < 0 else ""
    symbol = _SYMBOLS.get(currency.upper())
    if symbol is None:
        return f"{sign}{currency.upper()} {text}"
    return f"{symbol} {sign}{text}" if language == "nl" else f"{sign}{symbol}{text}"


def spoken_date(day: date, language: Language) -> str:
    return f"{day.day} {_MONTHS[language][day.month - 1]} {day.year}"


def ordinal(level: int, language: Language) -> str:
    words = _ORDINALS[language]
    if 1 <= level <= len(words):
        return words[level - 1]
    return f"{level}e" if language == "nl" else f"{level}th"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.notifier", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render(notice: Notice) -> tuple[str, str, str]:
    """(subject, text, html) of a notice."""
    lang = notice.language
    context = {
        "n": notice,
        "amount_open": money(notice.amount_open, notice.currency, lang),
        "amount_total": money(notice.amount_total, notice.currency, lang),
        "due": spoken_date(notice.due_date, lang),
        "dated": spoken_date(notice.invoice_date, lang),
        "ordinal": ordinal(notice.level, lang),
        "costs": money(collection_costs(notice.amount_open), notice.currency, lang),
        "term_days": 14,
    }
    env = _environment()
    text_template = env.get_template(f"{lang}/{notice.kind}.txt")
    module = text_template.make_module(context)
    subject = " ".join(str(getattr(module, "subject", "")).split())
    text = str(module)
    html = env.get_template(f"{lang}/{notice.kind}.html").render(context, subject=subject)
    return subject, text, html


def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "creditflow.local"


def compose(notice: Notice, *, sender: str, message_id: str, now: datetime) -> Message:
    """The MIME message (text and HTML alternatives). Built with the classic (compat32) MIME
    classes: the modern header registry costs milliseconds per header, which made composing
    dominate a reminder run. ValueError for an address that cannot be used."""
    recipient = checked_address(notice.recipient)
    subject, text, html = render(notice)
    address = parseaddr(sender)[1] or "noreply@creditflow.local"
    message = MIMEMultipart("alternative")
    message["Subject"] = _header(subject)  # type: ignore[assignment]  # compat32 takes Header
    message["From"] = formataddr((notice.administration_name, address), charset="utf-8")
    message["To"] = formataddr((notice.customer_name, recipient), charset="utf-8")
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = notice.language
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(html, "html", "utf-8"))
    return message


def checked_address(address: str) -> str:
    """The address itself if it can be put in an envelope: one @, both sides filled, no
    spaces or control characters (the validator has checked it more closely on import)."""
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "@" in local.strip('"') or "." not in domain:
        raise ValueError(f"{address!r} is not an e-mail address")
    if any(ch.isspace() or ord(ch) < 32 or ch in "<>,;" for ch in text):
        raise ValueError(f"{address!r} holds characters an e-mail address cannot have")
    return text


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")
