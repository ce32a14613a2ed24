"""The command groups of `creditflow`; each module has `register(subparsers)`."""

from creditflow.commands import (
    admin,
    case,
    errors,
    explain,
    ignore,
    imports,
    pause,
    plan,
    remind,
    run,
    up,
)

GROUPS = [up, run, admin, imports, ignore, errors, explain, pause, case, plan, remind]

__all__ = ["GROUPS"]
