"""Fingerprints of the code and libraries a result depends on: when either changes, so does
the fingerprint, and nothing computed before the change is taken for one computed after it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

__all__ = ["VALIDATION_LIBRARIES", "code_fingerprint", "library_versions"]

# The libraries the validation rules consult (services/validator/rules.py).
VALIDATION_LIBRARIES = ("phonenumbers", "pycountry", "email-validator", "python-stdnum")


def library_versions(packages: Iterable[str]) -> str:
    """`name=version;` for each package, `name=?;` for one that is not installed."""
    parts = []
    for package in packages:
        try:
            parts.append(f"{package}={metadata.version(package)};")
        except metadata.PackageNotFoundError:
            parts.append(f"{package}=?;")
    return "".join(parts)


def code_fingerprint(paths: Iterable[Path], *, libraries: Iterable[str] = ()) -> str:
    """A hash of these files (a directory: its .py and .sql files, recursively), each with its
    name, and of the libraries' versions."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += [p for p in path.rglob("*") if p.suffix in (".py", ".sql") and p.is_file()]
        else:
            files.append(path)
    digest = hashlib.sha256()
    for file in sorted(set(files)):
        digest.update(f"{file.name}:{file.stat().st_size}:".encode())
        digest.update(file.read_bytes())
    digest.update(library_versions(libraries).encode())
    return digest.hexdigest()
