"""Source adapters: where the importer reads an accounting package's export (DESIGN section 6).

`open_source("files:/path/to/dir")` or `open_source("demo:SEED")` gives a `Source`; every
adapter yields raw `SourceRow`s keyed by the DESIGN column names and raises `SourceError`
(one sentence naming file, line and column) when the source cannot be read.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from .base import (
    COLUMNS,
    ENTITIES,
    KEY_COLUMN,
    OPTIONAL_COLUMNS,
    Entity,
    Source,
    SourceError,
    SourceRow,
)
from .files import FILE_NAMES, FilesSource

if TYPE_CHECKING:
    from .demo import DemoSource
    from .generator import SyntheticExport, generate, write_export

# Imported on first use: the importer itself never needs the generator's name tables, and
# `python -m services.importer.sources.generator` must not find its module already imported.
_LAZY = {
    "DemoSource": ".demo",
    "SyntheticExport": ".generator",
    "generate": ".generator",
    "write_export": ".generator",
}

__all__ = [
    "COLUMNS",
    "ENTITIES",
    "FILE_NAMES",
    "KEY_COLUMN",
    "OPTIONAL_COLUMNS",
    "SOURCE_FORMS",
    "DemoSource",
    "Entity",
    "FilesSource",
    "Source",
    "SourceError",
    "SourceRow",
    "SyntheticExport",
    "generate",
    "open_source",
    "write_export",
]

SOURCE_FORMS = "'files:/path/to/dir' or 'demo:SEED' (SEED a whole number)"


def open_source(spec: str) -> Source:
    """The source a `--source KIND:ARG` value names; ValueError (one line) for anything else."""
    kind, colon, argument = spec.partition(":")
    kind = kind.strip().lower()
    if colon and kind == "files" and argument.strip():
        return FilesSource(Path(argument))
    if colon and kind == "demo":
        try:
            seed = int(argument.strip())
        except ValueError:
            pass
        else:
            if seed >= 0:
                from .demo import DemoSource

                return DemoSource(seed)
    shown = spec if len(spec) <= 80 else spec[:77] + "..."
    raise ValueError(f"unknown source {shown!r}: expected {SOURCE_FORMS}")


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
