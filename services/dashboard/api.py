"""The JSON API under /api (DESIGN section 8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from services.control.admins import (
    NewAdministration,
    add_administration,
    list_administrations,
    require_administration,
)
from services.control.imports import list_runs, request_import
from shared.errors import Invalid

router = APIRouter(prefix="/api")


def _state(request: Request) -> Any:
    return request.app.state


@router.get("/administrations")
async def administrations(request: Request) -> list[dict[str, Any]]:
    return await list_administrations(_state(request).runtime.pool)


@router.post("/administrations", status_code=201)
async def create_administration(request: Request, body: Any = Body(...)) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    return await add_administration(_state(request).runtime.pool, NewAdministration.parse(body))


@router.post("/administrations/{admin_id}/imports", status_code=202)
async def start_import(request: Request, admin_id: str) -> dict[str, str]:
    state = _state(request)
    await require_administration(state.runtime.pool, admin_id)
    sent = await request_import(
        state.publisher, state.runtime.topics, admin_id, requested_by="http"
    )
    return {"request_id": str(sent.request_id)}


@router.get("/administrations/{admin_id}/imports")
async def imports(request: Request, admin_id: str) -> list[dict[str, Any]]:
    pool = _state(request).runtime.pool
    await require_administration(pool, admin_id)
    return await list_runs(pool, admin_id)
