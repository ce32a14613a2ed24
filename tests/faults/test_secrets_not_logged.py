"""Secrets never reach a log: a service (importer, validator, dashboard) started with an API
token and a database password prints neither, at the most verbose log level, through a
database outage at start (when it logs where it is trying to connect), requests carrying the
token (and a wrong one) and a shutdown. Settings show URLs with the password masked."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import pytest

from shared.settings import Settings, redacted
from tests.faults.harness import ServiceProcess, processes
from tests.faults.proxy import TcpProxy, database_upstream

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]


def with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    credentials, _, location = rest.rpartition("@")
    user = credentials.partition(":")[0] or "postgres"
    return f"{scheme}://{user}:{password}@{location}"


def test_settings_show_urls_with_the_password_masked_and_never_the_token() -> None:
    settings = Settings(
        database_url="postgresql://creditflow:pa55-w0rd@db.example:5432/creditflow",
        smtp_url="smtp://mailer:smtp-s3cret@mail.example:587",
        api_token="tok-3f9a",
    )
    shown = f"{settings!r} {settings!s}"
    for secret in ("pa55-w0rd", "smtp-s3cret", "tok-3f9a"):
        assert secret not in shown
    assert "postgresql://creditflow:***@db.example:5432/creditflow" in shown
    assert redacted("postgresql://postgres@127.0.0.1:5432/test") == (
        "postgresql://postgres@127.0.0.1:5432/test"
    )


async def test_a_service_never_prints_its_token_or_database_password(
    settings: Settings, tmp_path: Path
) -> None:
    token = f"secret-token-{uuid4().hex}"
    password = f"pw-{uuid4().hex}"
    database_url = settings.database_url or ""
    with TcpProxy(database_upstream(database_url)) as proxy:
        proxy.cut()  # the service starts in a database outage, and says so
        secret_settings = replace(
            settings, database_url=with_password(proxy.database_url(database_url), password)
        )
        services = [
            ServiceProcess(
                name,
                secret_settings,
                tmp_path / "logs",
                extra_env={"CREDITFLOW_API_TOKEN": token, "CREDITFLOW_LOG_LEVEL": "DEBUG"},
            )
            for name in ("importer", "validator", "dashboard")
        ]
        with processes(*services):
            deadline = time.monotonic() + 30
            while not all("not reachable" in s.output() for s in services):
                assert time.monotonic() < deadline, "no service reported the outage"
                await asyncio.sleep(0.1)
            proxy.restore()
            for service in services:
                await service.wait_until_serving()
            dashboard = services[-1]
            answers = [  # the token, right and wrong, goes through the request path
                await asyncio.to_thread(_get, dashboard.port, sent)
                for sent in (token, "wrong-" + token)
            ]
            assert answers == [200, 401]
            for service in services:
                service.terminate()
            for service in services:
                await service.wait(15)

    for service in services:
        output = service.output()
        assert "Application shutdown complete" in output
        assert token not in output, f"{service.name} printed the API token"
        assert password not in output, f"{service.name} printed the database password"
        assert ":***@" in output  # it did name the database it waited for


def _get(port: int, token: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/administrations",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
