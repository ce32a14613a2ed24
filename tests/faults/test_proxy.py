"""The fault tests' proxy: it forwards both ways, and a cut closes every connection and
refuses new ones until it is restored on the same port; upstream TCP or a unix socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.proxy import TcpProxy, database_upstream

pytestmark = pytest.mark.faults


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture(params=["tcp", "unix"])
async def upstream(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    if request.param == "tcp":
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        yield ("127.0.0.1", server.sockets[0].getsockname()[1])
    else:
        path = str(tmp_path / ".s.PGSQL.5432")
        server = await asyncio.start_unix_server(_echo, path)
        yield path
    server.close()
    await server.wait_closed()


async def _round_trip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), 5)
    finally:
        writer.close()


async def test_a_cut_closes_connections_and_refuses_new_ones_until_restored(
    upstream: object,
) -> None:
    with TcpProxy(upstream) as proxy:  # type: ignore[arg-type]
        port = proxy.port
        assert await _round_trip(port, b"x" * 200_000) == b"x" * 200_000
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"

        proxy.cut()
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            writer.write(b"lost")
            await writer.drain()
            await asyncio.wait_for(reader.readexactly(4), 5)
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)

        proxy.restore()
        assert proxy.port == port
        assert await _round_trip(port, b"back") == b"back"


def test_the_database_upstream_is_read_from_the_url(tmp_path: Path) -> None:
    assert database_upstream("postgresql://postgres@127.0.0.1:5432/test") == ("127.0.0.1", 5432)
    assert database_upstream("postgresql://u:p@db.local/x") == ("db.local", 5432)
    (tmp_path / ".s.PGSQL.6543").touch()
    assert database_upstream(f"postgresql://postgres:@/postgres?host={tmp_path}") == str(
        tmp_path / ".s.PGSQL.6543"
    )
    proxy = TcpProxy(("127.0.0.1", 1), port=4321)
    assert proxy.database_url(f"postgresql://postgres:pw@/db?host={tmp_path}&x=1") == (
        "postgresql://postgres:pw@127.0.0.1:4321/db?x=1"
    )
