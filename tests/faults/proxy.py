"""A loopback TCP proxy that a test can cut and restore, to simulate an outage.

    with TcpProxy(("127.0.0.1", 5432)) as proxy:     # or TcpProxy("/tmp/.s.PGSQL.5432")
        url = proxy.database_url(original_url)       # services connect through the proxy
        proxy.cut()       # every connection is closed, new ones are refused
        proxy.restore()   # it listens again, on the same port

The proxy runs its own asyncio loop in a background thread, so it keeps forwarding while the
test's loop is busy or blocked (waiting for a subprocess, say). It listens on 127.0.0.1 only.
Its upstream is a TCP (host, port) or the path of a unix socket (the embedded PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["TcpProxy", "database_upstream"]

T = TypeVar("T")
Upstream = tuple[str, int] | str

_CHUNK = 64 * 1024


def database_upstream(url: str) -> Upstream:
    """Where a postgresql:// URL connects: (host, port), or a unix socket path when the URL
    names a socket directory (`?host=/dir` or a host starting with '/')."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "127.0.0.1"
    port = int(query.get("port") or parts.port or 5432)
    if host.startswith("/"):
        socket_path = Path(host) / f".s.PGSQL.{port}"
        if not socket_path.exists():
            found = sorted(Path(host).glob(".s.PGSQL.*[0-9]"))
            if len(found) == 1:
                socket_path = found[0]
        return str(socket_path)
    return (host, port)


class TcpProxy:
    def __init__(self, upstream: Upstream, port: int = 0) -> None:
        self.upstream = upstream
        self.port = port
        self.connections_accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # --- control, from any thread ------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self) -> None:
        """Close every connection and stop listening: new connections are refused."""
        self._call(self._cut())

    def restore(self) -> None:
        """Listen again on the same port."""
        self._call(self._listen())

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def is_cut(self) -> bool:
        return self._server is None

    def database_url(self, url: str) -> str:
        """`url` (postgresql://user:password@host:port/db?...) pointed at this proxy."""
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port")]
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{self.address}" if credentials else self.address
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # --- the proxy's own loop ----------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            _abort(writer)
        self._writers.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._server is None:
            _abort(client)
            return
        self.connections_accepted += 1
        try:
            if isinstance(self.upstream, str):
                up_reader, upstream = await asyncio.open_unix_connection(self.upstream)
            else:
                up_reader, upstream = await asyncio.open_connection(*self.upstream)
        except OSError:
            _abort(client)
            return
        self._writers.update((client, upstream))
        try:
            await asyncio.gather(_pipe(client_reader, upstream), _pipe(up_reader, client))
        finally:
            for writer in (client, upstream):
                self._writers.discard(writer)
                _abort(writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close at once, with a reset for TCP peers: an outage, not a polite goodbye."""
    transport = writer.transport
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
