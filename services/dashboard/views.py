"""Pure presentation helpers for the page: grouping, wording, times in the administration's
zone. No I/O; the templates escape every value they print."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.validator.rules import fix_hint

__all__ = [
    "COUNT_NAMES",
    "ENTITY_LABELS",
    "ErrorGroup",
    "format_duration",
    "format_moment",
    "group_errors",
    "run_rows",
]

ENTITY_LABELS = {
    "customer": "Customers",
    "invoice": "Invoices",
    "payment_condition": "Payment conditions",
}
COUNT_NAMES = ("added", "updated", "unchanged", "blocked", "ignored")
RUN_STATUS_WORDS = {
    "running": "running",
    "completed": "completed",
    "failed": "failed",
    "system_error": "system error",
    "restarted": "restarted",
}


@dataclass
class ErrorGroup:
    entity: str
    label: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocking(self) -> int:
        return sum(1 for e in self.errors if e["severity"] == "error")


def group_errors(errors: Iterable[Mapping[str, Any]]) -> list[ErrorGroup]:
    """Errors by entity (customers, invoices, payment conditions), each with the hint saying
    how to fix it in the accounting package; errors before warnings, then by key."""
    groups = {entity: ErrorGroup(entity, label) for entity, label in ENTITY_LABELS.items()}
    for error in errors:
        entity = str(error["entity"])
        group = groups.setdefault(entity, ErrorGroup(entity, entity.replace("_", " ").title()))
        group.errors.append(
            {**error, "fix_hint": fix_hint(str(error["code"]), entity, str(error["field"]))}
        )
    for group in groups.values():
        group.errors.sort(key=lambda e: (e["severity"] != "error", e["key"], e["code"]))
    return [group for group in groups.values() if group.errors]


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_moment(value: str | datetime | None, tz: ZoneInfo) -> str:
    """`2026-12-03 10:00` in the administration's zone; empty for none."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def run_rows(runs: Sequence[Mapping[str, Any]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """The import log as the page shows it: one row per run with its counts per entity."""
    rows = []
    for run in runs:
        counts: Mapping[str, Mapping[str, int]] = run.get("counts") or {}
        rows.append(
            {
                **run,
                "status_words": RUN_STATUS_WORDS.get(run["status"], run["status"]),
                "started": format_moment(run["started_at"], tz),
                "duration": format_duration(run.get("duration_seconds")),
                "count_rows": [
                    (ENTITY_LABELS.get(entity, entity), [per.get(n, 0) for n in COUNT_NAMES])
                    for entity, per in sorted(counts.items(), key=lambda kv: _entity_order(kv[0]))
                ],
            }
        )
    return rows


def _entity_order(entity: str) -> int:
    order = list(ENTITY_LABELS)
    return order.index(entity) if entity in order else len(order)
