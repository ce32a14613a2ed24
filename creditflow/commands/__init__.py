"""The command groups of `creditflow`; each module has `register(subparsers)`."""

from creditflow.commands import admin, case, imports, pause, plan, remind, run, up

GROUPS = [up, run, admin, imports, pause, case, plan, remind]

__all__ = ["GROUPS"]
