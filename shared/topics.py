"""Topic names (DESIGN section 5), each with the configured prefix."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Topics"]


@dataclass(frozen=True)
class Topics:
    prefix: str = "creditflow."

    @property
    def import_requests(self) -> str:
        return f"{self.prefix}import-requests"

    @property
    def validation_errors(self) -> str:
        return f"{self.prefix}validation-errors"

    @property
    def raw_records(self) -> str:
        return f"{self.prefix}raw-records"

    @property
    def import_runs(self) -> str:
        return f"{self.prefix}import-runs"

    @property
    def accepted_updates(self) -> str:
        return f"{self.prefix}accepted-updates"

    @property
    def control(self) -> str:
        return f"{self.prefix}control"

    @property
    def notifications(self) -> str:
        return f"{self.prefix}notifications"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}dead-letters"

    @property
    def reminder_requests(self) -> str:
        return f"{self.prefix}reminder-requests"

    def all(self) -> list[str]:
        return [
            self.import_requests,
            self.validation_errors,
            self.raw_records,
            self.import_runs,
            self.accepted_updates,
            self.control,
            self.notifications,
            self.dead_letters,
            self.reminder_requests,
        ]
