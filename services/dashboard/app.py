"""The dashboard service: the HTTP API, the web page and its Kafka consumer (FastAPI).

It consumes `{prefix}validation-errors` into its own view (its own consumer group), publishes
import requests, and serves /api, the page at /, /healthz, /metrics and /asyncapi. The broker
and the database pool are created in the lifespan; the subscriber is registered before the
broker starts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from shared.asyncapi import asyncapi_html, asyncapi_json
from shared.errors import UserError
from shared.kafka import make_broker
from shared.messages import ValidationErrorEvent
from shared.metrics import FAMILIES_BY_SERVICE, MetricsEndpoint
from shared.publish import Publisher
from shared.service import ServiceRuntime, subscribe_batches
from shared.settings import Settings

from . import api, pages, routes_notifier, routes_records
from .auth import SecurityHeaders, TokenGate
from .handlers import ErrorView

__all__ = ["build_app"]

log = logging.getLogger("creditflow.dashboard")


def build_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(settings, make_broker(settings, client_id="dashboard"), "dashboard")
    view = ErrorView(runtime)
    subscribe_batches(
        runtime, runtime.topics.validation_errors, ValidationErrorEvent, view.on_validation_errors
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.open()
        await runtime.broker.start()
        try:
            await runtime.start_relay()
            async with Publisher(settings) as publisher:
                app.state.publisher = publisher
                yield
        finally:
            await runtime.broker.stop()
            await runtime.close()

    app = FastAPI(
        title="creditflow",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.include_router(api.router)
    app.include_router(routes_records.router)
    app.include_router(routes_notifier.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    metrics = MetricsEndpoint(
        FAMILIES_BY_SERVICE["dashboard"],
        lambda: runtime.open_pool,
        lambda: runtime.broker.subscribers,
    )
    app.router.routes.append(Route("/metrics", metrics, include_in_schema=False))
    _add_error_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        await runtime.pool.fetchval("select 1")
        return {"status": "ok"}

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_page() -> Response:
        return HTMLResponse(asyncapi_html(settings.topic_prefix, _bootstrap(settings)))

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_document() -> Response:
        return Response(
            asyncapi_json(settings.topic_prefix, _bootstrap(settings)),
            media_type="application/json",
        )

    app.add_middleware(TokenGate, token=settings.api_token)
    app.add_middleware(SecurityHeaders)  # outermost: also on the token gate's refusals
    return app


def _bootstrap(settings: Settings) -> str:
    return settings.kafka_bootstrap or "kafka:9092"


def _wants_json(request: Request) -> bool:
    return not request.url.path.startswith(("/administrations", "/login")) and (
        request.url.path != "/"
    )


def _add_error_handlers(app: FastAPI) -> None:
    """Every refusal is `{"error": "..."}` with a fitting 4xx status (HTML on the page)."""

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        return _error(request, str(exc), exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = exc.errors()
        first: dict[str, Any] = problems[0] if problems else {}
        if first.get("type") == "json_invalid":
            return _error(request, "the body is not valid JSON", 400)
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = first.get("msg", "invalid request")
        return _error(request, f"{where}: {message}" if where else message, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        words = {404: "not found", 405: "method not allowed"}.get(exc.status_code, detail)
        return _error(request, words, exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return _error(request, "internal error; see the dashboard's log", 500)

    @app.exception_handler(KafkaError)
    async def broker_down(request: Request, exc: KafkaError) -> Response:
        log.warning("broker unavailable: %s", exc)
        return _error(request, "the message broker is not reachable; try again shortly", 503)


def _error(
    request: Request, message: str, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    html = pages.templates.get_template("not_found.html").render(
        what=message, login_required=request.app.state.settings.api_token is not None
    )
    return HTMLResponse(html, status_code=status, headers=headers)
