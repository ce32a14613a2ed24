"""The command groups of `creditflow`; each module has `register(subparsers)`."""

from creditflow.commands import admin, imports, run, up

GROUPS = [up, run, admin, imports]

__all__ = ["GROUPS"]
