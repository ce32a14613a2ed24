"""The notifier's part of the JSON API under /api (DESIGN section 8): pauses, cases, dunning
plans, reminder runs and notifications. Thin: parse, call `services.control`, return."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from services.control.cases import add_case, list_cases
from services.control.notifications import list_notifications
from services.control.pauses import lift_pause, list_pauses, set_pause
from services.control.plans import PlanInput, get_plan, list_plans, set_plan
from services.control.reminders import list_reminder_runs, request_reminder_run
from shared.errors import BadRequest, Invalid

router = APIRouter(prefix="/api")


def _state(request: Request) -> Any:
    return request.app.state


async def _body(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The JSON object of the body: 400 when it is not JSON, 422 when it is not an object."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise Invalid("the body must be a JSON object")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    return body


# --- pauses -----------------------------------------------------------------------------------


@router.get("/administrations/{admin_id}/pauses")
async def pauses(request: Request, admin_id: str, status: str = "active") -> list[dict[str, Any]]:
    if status not in ("active", "all"):
        raise Invalid(f"status {status!r} must be active or all")
    return await list_pauses(_state(request).runtime.pool, admin_id, include_ended=status == "all")


@router.post("/administrations/{admin_id}/pauses", status_code=201)
async def pause(request: Request, admin_id: str) -> dict[str, Any]:
    body = await _body(request)
    state = _state(request)
    return await set_pause(
        state.runtime.pool,
        state.runtime.topics,
        admin_id,
        entity=body.get("entity", "administration"),
        key=body.get("key"),
        mode=body.get("mode", "full"),
        until=body.get("until"),
        reason=body.get("reason"),
        issued_by="http",
        flush=state.runtime.relay.flush,
    )


@router.delete("/administrations/{admin_id}/pauses")
async def resume(
    request: Request, admin_id: str, entity: str | None = None, key: str | None = None
) -> dict[str, Any]:
    """The pause to lift is named in the body or in the query (?entity=customer&key=C1)."""
    body = await _body(request, required=False)
    state = _state(request)
    return await lift_pause(
        state.runtime.pool,
        state.runtime.topics,
        admin_id,
        entity=body.get("entity", entity or "administration"),
        key=body.get("key", key),
        issued_by="http",
        flush=state.runtime.relay.flush,
    )


# --- cases ------------------------------------------------------------------------------------


@router.get("/administrations/{admin_id}/cases")
async def cases(request: Request, admin_id: str) -> list[dict[str, Any]]:
    return await list_cases(_state(request).runtime.pool, admin_id)


@router.post("/administrations/{admin_id}/cases", status_code=201)
async def create_case(request: Request, admin_id: str) -> dict[str, Any]:
    body = await _body(request)
    state = _state(request)
    return await add_case(
        state.runtime.pool,
        state.runtime.topics,
        admin_id,
        body.get("key"),
        customer=body.get("customer"),
        invoices=body.get("invoices"),
        issued_by="http",
        flush=state.runtime.relay.flush,
    )


# --- dunning plans ----------------------------------------------------------------------------


@router.get("/administrations/{admin_id}/dunning-plans")
async def plans(request: Request, admin_id: str) -> list[dict[str, Any]]:
    return await list_plans(_state(request).runtime.pool, admin_id)


@router.get("/administrations/{admin_id}/dunning-plans/{code}")
async def plan(request: Request, admin_id: str, code: str) -> dict[str, Any]:
    return await get_plan(_state(request).runtime.pool, admin_id, code)


@router.put("/administrations/{admin_id}/dunning-plans/{code}")
async def put_plan(request: Request, admin_id: str, code: str) -> dict[str, Any]:
    body = await _body(request)
    state = _state(request)
    return await set_plan(
        state.runtime.pool,
        state.runtime.topics,
        admin_id,
        code,
        PlanInput(body),
        issued_by="http",
        flush=state.runtime.relay.flush,
    )


# --- reminder runs and notifications ----------------------------------------------------------


@router.post("/administrations/{admin_id}/reminder-runs", status_code=202)
async def start_reminder_run(request: Request, admin_id: str) -> dict[str, str]:
    body = await _body(request, required=False)
    state = _state(request)
    sent = await request_reminder_run(
        state.runtime.pool,
        state.publisher,
        state.runtime.topics,
        admin_id,
        as_of=body.get("as_of"),
        requested_by="http",
    )
    return {"request_id": str(sent.request_id), "as_of": sent.as_of.isoformat()}


@router.get("/administrations/{admin_id}/reminder-runs")
async def reminder_runs(request: Request, admin_id: str) -> list[dict[str, Any]]:
    return await list_reminder_runs(_state(request).runtime.pool, admin_id)


@router.get("/administrations/{admin_id}/notifications")
async def notifications(
    request: Request, admin_id: str, invoice: str | None = None, limit: str = "200"
) -> list[dict[str, Any]]:
    if not limit.isdigit():
        raise Invalid(f"limit {limit!r} must be a whole number")
    return await list_notifications(
        _state(request).runtime.pool, admin_id, invoice=invoice, limit=int(limit)
    )
