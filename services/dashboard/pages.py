"""The web page: the list of administrations, one administration's dashboard, and the login
form. Server-rendered (Jinja2, every value escaped); the page's script refreshes the sections
below from /administrations/{id}/sections/{name} and calls the JSON API for the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.control.admins import get_administration, list_administrations
from services.control.imports import list_runs

from .auth import SESSION_COOKIE, safe_next, session_value, token_matches
from .mail import read_mail
from .store import administration_summaries, list_errors, notification_message_ids
from .views import COUNT_NAMES, format_moment, group_errors, run_rows, zone

__all__ = ["SECTIONS", "router", "templates"]

router = APIRouter(include_in_schema=False)

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,  # every value printed is escaped, whatever the file name
        undefined=jinja2.StrictUndefined,
    )
)

RUN_DAYS = 30
SECTIONS = ("errors", "imports", "mail")


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _token(request: Request) -> str | None:
    token: str | None = request.app.state.settings.api_token
    return token


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    pool = _runtime(request).pool
    admins = await list_administrations(pool)
    summary = await administration_summaries(pool)
    for admin in admins:
        row = summary.get(admin["id"])
        admin["open_errors"] = row["errors"] if row else 0
        admin["open_warnings"] = row["warnings"] if row else 0
        admin["last_status"] = row["last_status"] if row else None
        admin["last_started"] = format_moment(
            row["last_started"] if row else None, zone(admin["timezone"])
        )
    return _page(request, "index.html", {"admins": admins})


@router.get("/administrations/{admin_id}", response_class=HTMLResponse)
async def administration(request: Request, admin_id: str) -> Response:
    admin = await get_administration(_runtime(request).pool, admin_id)
    if admin is None:
        return _not_found(request, admin_id)
    context = {"admin": admin, **await _sections(request, admin, SECTIONS)}
    return _page(request, "administration.html", context)


@router.get("/administrations/{admin_id}/sections/{name}", response_class=HTMLResponse)
async def section(request: Request, admin_id: str, name: str) -> Response:
    """One section of the page, for the script's live refresh."""
    admin = await get_administration(_runtime(request).pool, admin_id)
    if admin is None or name not in SECTIONS:
        return _not_found(request, admin_id)
    context = {"admin": admin, **await _sections(request, admin, (name,))}
    return _page(request, f"_{name}.html", context)


async def _sections(
    request: Request, admin: dict[str, Any], names: tuple[str, ...]
) -> dict[str, Any]:
    pool = _runtime(request).pool
    tz = zone(admin["timezone"])
    context: dict[str, Any] = {"tz": tz, "count_names": COUNT_NAMES}
    if "errors" in names:
        context["error_groups"] = group_errors(await list_errors(pool, admin["id"], "open"))
        context["recently_resolved"] = [
            {**e, "resolved_local": format_moment(e["resolved_at"], tz)}
            for e in (await list_errors(pool, admin["id"], "resolved"))[:20]
        ]
    if "imports" in names:
        runs = await list_runs(pool, admin["id"], days=RUN_DAYS, limit=500)
        context["runs"] = run_rows(runs, tz)
    if "mail" in names:
        maildir = request.app.state.settings.home / "mail"
        ids = await notification_message_ids(pool, admin["id"]) if maildir.is_dir() else set()
        context["mail"] = await asyncio.to_thread(read_mail, maildir, admin["id"], ids)
    return context


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    return _page(request, "login.html", {"next": safe_next(next), "failed": False})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
    expected = _token(request)
    if expected is None:
        return RedirectResponse(safe_next(next), status_code=303)
    if not token_matches(token, expected):
        return _page(
            request, "login.html", {"next": safe_next(next), "failed": True}, status_code=401
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(expected),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    context = {"login_required": _token(request) is not None, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _not_found(request: Request, admin_id: str) -> Response:
    return _page(
        request,
        "not_found.html",
        {"what": f"There is no administration {admin_id!r}."},
        status_code=404,
    )
