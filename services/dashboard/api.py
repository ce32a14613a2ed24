"""The JSON API under /api (DESIGN section 8): administrations, imports and errors.

Routes are thin: parse, call a services/control function or the dashboard's store, return.
Every route below an administration answers 404 for an unknown one and reads only that
administration's rows.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from services.control.admins import (
    NewAdministration,
    add_administration,
    list_administrations,
    require_administration,
)
from services.control.imports import list_runs, request_for, request_import
from services.validator.rules import fix_hint
from shared.errors import BadRequest, Invalid

from .store import ErrorStatus, list_errors

__all__ = ["json_object", "router"]

router = APIRouter(prefix="/api")

# The import log keeps at least the last 30 days (issue 5); ?days= widens it up to a year.
DEFAULT_RUN_DAYS = 30
MAX_RUNS = 2000


def _state(request: Request) -> Any:
    return request.app.state


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object: 400 when it is not JSON, 422 when not an object."""
    raw = await request.body()
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise Invalid("the body must be a JSON object")
    return value


@router.get("/administrations")
async def administrations(request: Request) -> list[dict[str, Any]]:
    return await list_administrations(_state(request).runtime.pool)


_ADMINISTRATION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["id", "name", "source"],
                    "properties": {
                        "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
                        "name": {"type": "string"},
                        "source": {"type": "string", "examples": ["files:/srv/exports/acme"]},
                        "import_at": {"type": "array", "items": {"type": "string"}},
                        "timezone": {"type": "string", "default": "Europe/Amsterdam"},
                        "import_mode": {"enum": ["schedule", "file", "manual"]},
                        "send_invoices_from": {"type": ["string", "null"], "format": "date"},
                        "minimum_amount": {"type": ["string", "number"], "default": "0"},
                        "holiday_country": {"type": "string", "default": "NL"},
                    },
                }
            }
        },
    }
}


@router.post("/administrations", status_code=201, openapi_extra=_ADMINISTRATION_BODY)
async def create_administration(request: Request) -> dict[str, Any]:
    admin = NewAdministration.parse(await json_object(request))
    return await add_administration(_state(request).runtime.pool, admin)


@router.get("/administrations/{admin_id}")
async def administration(request: Request, admin_id: str) -> dict[str, Any]:
    return await require_administration(_state(request).runtime.pool, admin_id)


@router.post("/administrations/{admin_id}/imports", status_code=202)
async def start_import(request: Request, admin_id: str) -> dict[str, str]:
    state = _state(request)
    await require_administration(state.runtime.pool, admin_id)
    sent = await request_import(
        state.publisher, state.runtime.topics, admin_id, requested_by="http"
    )
    return {"request_id": str(sent.request_id)}


@router.get("/administrations/{admin_id}/imports")
async def imports(
    request: Request, admin_id: str, days: int = Query(DEFAULT_RUN_DAYS, ge=1, le=366)
) -> list[dict[str, Any]]:
    pool = _state(request).runtime.pool
    await require_administration(pool, admin_id)
    return await list_runs(pool, admin_id, days=days, limit=MAX_RUNS)


@router.get("/administrations/{admin_id}/import-requests/{request_id}")
async def import_request(request: Request, admin_id: str, request_id: UUID) -> dict[str, Any]:
    """Extension: follow one request to its run (the dashboard's "Import now" progress)."""
    pool = _state(request).runtime.pool
    await require_administration(pool, admin_id)
    return await request_for(pool, admin_id, request_id)


@router.get("/administrations/{admin_id}/errors")
async def errors(
    request: Request, admin_id: str, status: ErrorStatus = Query("open")
) -> list[dict[str, Any]]:
    pool = _state(request).runtime.pool
    await require_administration(pool, admin_id)
    found = await list_errors(pool, admin_id, status)
    return [{**e, "fix_hint": fix_hint(e["code"], e["entity"], e["field"])} for e in found]
