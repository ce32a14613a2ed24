"""The command groups of `creditflow`; each module has `register(subparsers)`."""

from creditflow.commands import admin, errors, explain, ignore, imports, run, up

GROUPS = [up, run, admin, imports, ignore, errors, explain]

__all__ = ["GROUPS"]
