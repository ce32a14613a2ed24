"""The dashboard service: the HTTP API and web page (FastAPI), plus its Kafka consumers.

The broker and the database pool are created in the lifespan; the API reads PostgreSQL and
publishes requests on Kafka.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from services.dashboard.api import router as api_router
from services.dashboard.routes_notifier import router as notifier_router
from services.dashboard.routes_records import router as records_router
from shared.errors import UserError
from shared.kafka import make_broker
from shared.publish import Publisher
from shared.service import ServiceRuntime
from shared.settings import Settings

__all__ = ["build_app"]


def build_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(settings, make_broker(settings, client_id="dashboard"), "dashboard")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.open()
        await runtime.broker.start()
        await runtime.start_relay()
        async with Publisher(settings) as publisher:
            app.state.runtime = runtime
            app.state.publisher = publisher
            yield
        await runtime.broker.stop()
        await runtime.close()

    app = FastAPI(title="creditflow", lifespan=lifespan)
    app.include_router(api_router)
    app.include_router(records_router)
    app.include_router(notifier_router)
    app.mount("/metrics", make_asgi_app())

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        await runtime.pool.fetchval("select 1")
        return {"status": "ok"}

    return app
