"""Administrations: adding, changing and listing them (CLI `admin`, HTTP /api/administrations)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

from services.importer.logic import parse_import_time, parse_timezone
from shared.errors import Conflict, Invalid, NotFound

__all__ = [
    "NewAdministration",
    "add_administration",
    "get_administration",
    "list_administrations",
    "require_administration",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
IMPORT_MODES = ("schedule", "file", "manual")


@dataclass(frozen=True)
class NewAdministration:
    id: str
    name: str
    source: str
    import_at: list[str] = field(default_factory=lambda: ["06:00"])
    timezone: str = "Europe/Amsterdam"
    import_mode: str = "schedule"
    send_invoices_from: date | None = None
    minimum_amount: Decimal = Decimal("0")
    holiday_country: str = "NL"

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> NewAdministration:
        """Build from loosely typed input (CLI arguments, JSON); Invalid on any bad field."""

        def text(name: str, default: str | None = None) -> str:
            value = raw.get(name)
            if value is None or (default is not None and value == ""):
                value = default
            if not isinstance(value, str) or not value.strip():
                raise Invalid(f"{name} is required and must be text")
            return value.strip()

        admin_id = text("id")
        if not _ID.match(admin_id):
            raise Invalid(
                f"administration id {admin_id!r} may hold letters, digits, '_', '.'"
                " and '-' (at most 64, starting with a letter or digit)"
            )
        source = text("source")
        kind, _, arg = source.partition(":")
        if kind not in ("files", "demo") or not arg:
            raise Invalid(f"source {source!r} must be files:/path/to/export or demo:SEED")
        if kind == "demo" and not arg.isdigit():
            raise Invalid(f"source {source!r}: the demo seed must be a whole number")
        import_at = raw.get("import_at") or ["06:00"]
        if isinstance(import_at, str):
            import_at = [import_at]
        if not isinstance(import_at, list) or not all(isinstance(t, str) for t in import_at):
            raise Invalid("import_at must be a list of HH:MM times")
        try:
            times = sorted({parse_import_time(t).strftime("%H:%M") for t in import_at})
            timezone = text("timezone", "Europe/Amsterdam")
            parse_timezone(timezone)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        mode = raw.get("import_mode") or "schedule"
        if mode not in IMPORT_MODES:
            raise Invalid(f"import_mode {mode!r} must be one of {', '.join(IMPORT_MODES)}")
        start = raw.get("send_invoices_from")
        try:
            start_date = date.fromisoformat(start) if start else None
        except (TypeError, ValueError):
            raise Invalid(f"send_invoices_from {start!r} is not a date (YYYY-MM-DD)") from None
        minimum = raw.get("minimum_amount", "0")
        try:
            amount = Decimal(str(minimum if minimum is not None else "0"))
        except InvalidOperation:
            raise Invalid(f"minimum_amount {minimum!r} is not an amount") from None
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            raise Invalid(f"minimum_amount {minimum!r} must be 0 or more, with at most 2 decimals")
        country = raw.get("holiday_country") or "NL"
        if not isinstance(country, str) or not _is_holiday_country(country.upper()):
            raise Invalid(
                f"holiday_country {country!r} must be a two-letter country code whose public"
                " holidays are known, such as NL, BE or DE"
            )
        country = country.upper()
        return cls(
            admin_id, text("name"), source, times, timezone, mode, start_date, amount, country
        )


def _is_holiday_country(code: str) -> bool:
    import holidays

    return len(code) == 2 and code in holidays.list_supported_countries()


async def add_administration(pool: asyncpg.Pool, admin: NewAdministration) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchrow(
            "insert into administrations (id, name, source, import_mode, import_at, timezone,"
            " send_invoices_from, minimum_amount, holiday_country)"
            " values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict do nothing returning *",
            admin.id,
            admin.name,
            admin.source,
            admin.import_mode,
            admin.import_at,
            admin.timezone,
            admin.send_invoices_from,
            admin.minimum_amount,
            admin.holiday_country,
        )
        if inserted is None:
            raise Conflict(f"administration {admin.id!r} already exists")
        # R9: every administration starts with the default plan as its fallback.
        await conn.execute(
            "insert into dunning_plans (administration_id, condition_code) values ($1, 'default')"
            " on conflict do nothing",
            admin.id,
        )
    return _public(inserted)


async def list_administrations(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("select * from administrations order by created_at desc, id")
    return [_public(row) for row in rows]


async def get_administration(pool: asyncpg.Pool, admin_id: str) -> dict[str, Any] | None:
    row = await pool.fetchrow("select * from administrations where id = $1", admin_id)
    return _public(row) if row else None


async def require_administration(pool: asyncpg.Pool, admin_id: str) -> dict[str, Any]:
    admin = await get_administration(pool, admin_id)
    if admin is None:
        raise NotFound(f"unknown administration {admin_id!r}")
    return admin


def _public(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "source": row["source"],
        "import_mode": row["import_mode"],
        "import_at": list(row["import_at"]),
        "timezone": row["timezone"],
        "send_invoices_from": row["send_invoices_from"].isoformat()
        if row["send_invoices_from"]
        else None,
        "minimum_amount": str(row["minimum_amount"]),
        "holiday_country": row["holiday_country"],
        "created_at": row["created_at"].isoformat(),
    }
