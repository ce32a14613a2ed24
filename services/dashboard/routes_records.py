"""HTTP routes for loaded records, explain (R10) and the ignore list (R7), under /api.

Thin: parse, call services/control, return. A `UserError` becomes `{"error": ...}` with its
status (app.py): unknown administration 404, bad input 422, malformed JSON 400, a duplicate
ignore entry 409. Keys are path segments that may hold slashes (`2026/001`).

DELETE …/ignore-list takes the entry either as a JSON body `{"entity", "pattern"}` or as query
parameters `?entity=…&pattern=…` (some HTTP clients cannot send a body with DELETE).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from services.control.explain import explain
from services.control.ignore import add_ignore_entry, list_ignore_entries, remove_ignore_entry
from services.control.records import get_customer, get_invoice
from shared.errors import Invalid, UserError

router = APIRouter(prefix="/api")


class MalformedBody(UserError):
    status = 400


def _pool(request: Request) -> Any:
    return request.app.state.runtime.pool


async def _entry_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise MalformedBody("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid('the body must be a JSON object like {"entity": ..., "pattern": ...}')
    return body


@router.get("/administrations/{admin_id}/customers/{key:path}")
async def customer(request: Request, admin_id: str, key: str) -> dict[str, Any]:
    return await get_customer(_pool(request), admin_id, key)


@router.get("/administrations/{admin_id}/invoices/{key:path}")
async def invoice(request: Request, admin_id: str, key: str) -> dict[str, Any]:
    return await get_invoice(_pool(request), admin_id, key)


@router.get("/administrations/{admin_id}/explain/{entity}/{key:path}")
async def explain_record(request: Request, admin_id: str, entity: str, key: str) -> dict[str, Any]:
    return await explain(_pool(request), admin_id, entity, key)


@router.get("/administrations/{admin_id}/ignore-list")
async def ignore_list(request: Request, admin_id: str) -> list[dict[str, Any]]:
    return await list_ignore_entries(_pool(request), admin_id)


@router.post("/administrations/{admin_id}/ignore-list", status_code=201)
async def ignore_add(request: Request, admin_id: str) -> dict[str, Any]:
    body = await _entry_body(request)
    runtime = request.app.state.runtime
    return await add_ignore_entry(
        runtime.pool,
        runtime.topics,
        admin_id,
        body.get("entity"),
        body.get("pattern"),
        issued_by="http",
        flush=runtime.relay.flush,
    )


@router.delete("/administrations/{admin_id}/ignore-list")
async def ignore_remove(request: Request, admin_id: str) -> dict[str, Any]:
    query = request.query_params
    if "entity" in query or "pattern" in query:
        entity, pattern = query.get("entity"), query.get("pattern")
    else:
        body = await _entry_body(request)
        entity, pattern = body.get("entity"), body.get("pattern")
    runtime = request.app.state.runtime
    return await remove_ignore_entry(
        runtime.pool,
        runtime.topics,
        admin_id,
        entity,
        pattern,
        issued_by="http",
        flush=runtime.relay.flush,
    )
