"""SMTP with aiosmtplib: one connection per run, reused for every e-mail of it, reconnected
once when the server drops it.

`MailRefused`: the server refused this message for good (5xx, a rejected address): record it
and go on. `MailUnavailable`: the server cannot be reached or answers "try later" (4xx): the
caller's transaction rolls back, so nothing is marked sent, and the run is retried. It is a
ConnectionError, so the batch consumer retries it with backoff, never dead-letters it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import Message
from urllib.parse import unquote, urlsplit

import aiosmtplib

__all__ = ["MailRefused", "MailSession", "MailUnavailable", "Mailer", "SmtpTarget"]

log = logging.getLogger("creditflow.notifier")


class MailRefused(Exception):
    """The server refused this message for good."""


class MailUnavailable(ConnectionError):
    """The server cannot take mail now; try again later."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    use_tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """smtp://[user:password@]host[:port] (plain, STARTTLS when offered) or smtps://…
        (TLS from the start)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP URL {url!r} must look like smtp://host:port")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            use_tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __repr__(self) -> str:  # never print the password
        return f"SmtpTarget({self.host}:{self.port}, tls={self.use_tls})"


class Mailer:
    def __init__(self, smtp_url: str | None, *, timeout: float = 30.0) -> None:
        self._url = smtp_url
        self.timeout = timeout

    @property
    def target(self) -> SmtpTarget:
        if not self._url:
            raise MailUnavailable(
                "no SMTP server: set CREDITFLOW_SMTP_URL or start `creditflow up` first"
            )
        return SmtpTarget.parse(self._url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[MailSession]:
        """A session for one run: it connects on its first e-mail and closes at the end."""
        session = MailSession(self.target, self.timeout)
        try:
            yield session
        finally:
            await session.close()


class MailSession:
    def __init__(self, target: SmtpTarget, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self._client: aiosmtplib.SMTP | None = None
        self.sent = 0

    async def _connect(self) -> aiosmtplib.SMTP:
        t = self._target
        client = aiosmtplib.SMTP(
            hostname=t.host,
            port=t.port,
            use_tls=t.use_tls,
            username=t.username,
            password=t.password,
            timeout=self._timeout,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailUnavailable(f"cannot reach the SMTP server {t.host}:{t.port}: {exc}") from exc
        self._client = client
        return client

    async def send(self, message: Message) -> None:
        """Hand one message to the server; reconnect once if the connection was lost."""
        for attempt in (1, 2):
            client = self._client or await self._connect()
            try:
                await client.send_message(message)
                self.sent += 1
                return
            except aiosmtplib.SMTPRecipientsRefused as exc:
                raise MailRefused(_describe(exc)) from exc
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    raise MailRefused(_describe(exc)) from exc
                await self._drop()
                raise MailUnavailable(
                    f"the SMTP server answered {exc.code}: {exc.message}"
                ) from exc
            except TimeoutError as exc:
                # The server may have taken the message: no second try now. The claim rolls
                # back, and a later run sends it again under the same Message-ID.
                await self._drop()
                raise MailUnavailable(f"the SMTP server did not answer in time: {exc}") from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                # Typically a reused connection the server closed while idle.
                await self._drop()
                if attempt == 2:
                    raise MailUnavailable(f"sending failed twice: {exc}") from exc
                log.info("SMTP connection lost (%s); reconnecting", exc)
        raise AssertionError("unreachable")

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # already gone
                pass

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


def _describe(exc: aiosmtplib.SMTPException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(_describe(r) for r in exc.recipients) or "recipients refused"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    return str(exc)
