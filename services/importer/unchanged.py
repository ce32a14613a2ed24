"""An export that is unchanged since the administration's last completed run is not imported
again (docs/import-and-validation.md §4; migration 0050).

A run's outcome is a function of the export's content, of the code that reads, validates and
loads it, and of the administration's import inputs (ignore list, dunning plans). The importer
knows the first two before it reads a record: `ExportIdentity` and `pipeline_fingerprint`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import services.importer
import services.validator
import shared
from services.importer.sources import Source
from shared.fingerprints import VALIDATION_LIBRARIES, code_fingerprint

__all__ = ["ExportIdentity", "carried_counts", "pipeline_fingerprint"]


@dataclass(frozen=True, slots=True)
class ExportIdentity:
    content_hash: str | None  # of the export's content; None when it cannot be known
    fingerprint: str  # the source's cheap change marker, to tell whether it changed meanwhile

    @classmethod
    def of(cls, source: Source) -> ExportIdentity:
        """Blocking (it reads the whole export once): call it off the event loop."""
        fingerprint = source.fingerprint()
        return cls(source.content_hash(), fingerprint)

    def still_describes(self, source: Source) -> bool:
        """False when the export changed since it was identified: what was read since may
        be part of one export and part of another (the run then fails)."""
        return source.fingerprint() == self.fingerprint


@functools.cache
def pipeline_fingerprint() -> str:
    """A hash of the code that turns an export into loaded records and errors (reading,
    validating, loading, the schema's SQL functions) and of the libraries the rules consult."""
    importer = Path(services.importer.__file__).parent
    return code_fingerprint(
        [
            importer / "reader.py",
            importer / "logic.py",
            importer / "sources",
            Path(services.validator.__file__).parent,
            Path(shared.__file__).parent / "source_format.py",
            Path(shared.__file__).parent / "migrations",
        ],
        libraries=VALIDATION_LIBRARIES,
    )


def carried_counts(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The counts of a run that loads the same as `counts`' run did: what that run added or
    updated is now unchanged; what it held back or ignored, it holds back or ignores again."""
    carried = {}
    for entity, figures in counts.items():
        carried[entity] = {
            "added": 0,
            "updated": 0,
            "unchanged": figures.get("added", 0)
            + figures.get("updated", 0)
            + figures.get("unchanged", 0),
            "blocked": figures.get("blocked", 0),
            "ignored": figures.get("ignored", 0),
        }
    return carried
