"""Errors the control surface reports to people: one line each, no traceback."""

from __future__ import annotations

__all__ = ["BadRequest", "Conflict", "Invalid", "NotFound", "UserError"]


class UserError(Exception):
    """A request that cannot be carried out as asked; nothing was changed."""

    status = 400


class BadRequest(UserError):
    """The request itself is malformed (say, a body that is not JSON)."""

    status = 400


class Invalid(UserError):
    status = 422


class NotFound(UserError):
    status = 404


class Conflict(UserError):
    status = 409
