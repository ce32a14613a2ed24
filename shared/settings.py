"""Settings: read once from the environment (DESIGN section 3), then passed down.

Nothing else in creditflow reads the environment. Where a connection setting is unset and
`creditflow up` is running embedded parts, the addresses it recorded in
`$CREDITFLOW_HOME/runtime.json` are used, so that `creditflow import` and friends find them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["RUNTIME_FILE", "Settings", "redacted"]

RUNTIME_FILE = "runtime.json"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def redacted(url: str | None) -> str | None:
    """The URL with its password replaced by ***, fit for logs and reprs."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "***"  # not a URL we understand: show none of it
    if not password:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))


def _whole(get: Callable[[str], str | None], name: str, default: int) -> int:
    value = get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"CREDITFLOW_{name} must be a whole number, not {value!r}") from None


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    smtp_url: str | None = None
    home: Path = Path(".creditflow")
    topic_prefix: str = "creditflow."
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    topic_partitions: int = 8
    kafka_idempotence: bool = False
    # Tansu completes a group join after half the session timeout; tests shorten it. Real
    # Kafka refuses less than its group.min.session.timeout.ms (6 s by default).
    kafka_session_timeout_ms: int = 10_000
    api_token: str | None = field(default=None, repr=False)
    invoice_grace_seconds: int = 3600
    smtp_sender: str = "creditflow <noreply@creditflow.local>"
    log_level: str = "INFO"

    def __repr__(self) -> str:
        # Passwords inside URLs never print; the API token is left out altogether.
        shown = {
            "database_url": redacted(self.database_url),
            "smtp_url": redacted(self.smtp_url),
        }
        fields = ", ".join(
            f"{f.name}={shown.get(f.name, getattr(self, f.name))!r}"
            for f in dataclass_fields(self)
            if f.repr
        )
        return f"Settings({fields})"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, use_runtime: bool = True
    ) -> Settings:
        """Settings from the environment; with `use_runtime`, unset connections fall back to
        the embedded parts a running `creditflow up` recorded."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"CREDITFLOW_{name}")
            return value if value not in (None, "") else None

        settings = cls(
            database_url=get("DATABASE_URL"),
            kafka_bootstrap=get("KAFKA_BOOTSTRAP"),
            smtp_url=get("SMTP_URL"),
            home=Path(get("HOME") or ".creditflow"),
            topic_prefix=env.get("CREDITFLOW_TOPIC_PREFIX", "creditflow."),
            http_host=get("HTTP_HOST") or "127.0.0.1",
            http_port=_whole(get, "HTTP_PORT", 8000),
            topic_partitions=_whole(get, "TOPIC_PARTITIONS", 8),
            kafka_idempotence=_flag(get("KAFKA_IDEMPOTENCE"), False),
            kafka_session_timeout_ms=_whole(get, "KAFKA_SESSION_TIMEOUT_MS", 10_000),
            api_token=get("API_TOKEN"),
            invoice_grace_seconds=_whole(get, "INVOICE_GRACE_SECONDS", 3600),
            smtp_sender=get("SMTP_SENDER") or "creditflow <noreply@creditflow.local>",
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
        )
        return settings.with_runtime_defaults() if use_runtime else settings

    def with_runtime_defaults(self) -> Settings:
        """Fill unset connection settings from the embedded parts `up` recorded, if any."""
        runtime = self.read_runtime()
        if not runtime:
            return self
        return replace(
            self,
            database_url=self.database_url or runtime.get("database_url"),
            kafka_bootstrap=self.kafka_bootstrap or runtime.get("kafka_bootstrap"),
            smtp_url=self.smtp_url or runtime.get("smtp_url"),
        )

    @property
    def runtime_path(self) -> Path:
        return self.home / RUNTIME_FILE

    def read_runtime(self) -> dict[str, str]:
        try:
            data = json.loads(self.runtime_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def require_database(self) -> str:
        if not self.database_url:
            raise RuntimeError(
                "no database: set CREDITFLOW_DATABASE_URL or start `creditflow up` first"
            )
        return self.database_url

    def require_kafka(self) -> str:
        if not self.kafka_bootstrap:
            raise RuntimeError(
                "no Kafka broker: set CREDITFLOW_KAFKA_BOOTSTRAP or start `creditflow up` first"
            )
        return self.kafka_bootstrap
