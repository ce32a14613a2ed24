"""`creditflow up`: the embedded parts where unset, migrations, every service as a child
process, and a clean stop on Ctrl-C (or SIGTERM) that leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from shared.db import apply_migrations, connect_pool
from shared.embedded import EmbeddedBroker, EmbeddedPostgres, SmtpSink, free_port, wait_for_port
from shared.settings import Settings

__all__ = ["Supervisor"]

log = logging.getLogger("creditflow.up")

SERVICES = ("importer", "validator", "notifier", "dashboard")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@dataclass
class Child:
    service: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0


@dataclass
class Supervisor:
    settings: Settings
    embedded: list[EmbeddedBroker | EmbeddedPostgres | SmtpSink] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)

    def check_access(self) -> None:
        if self.settings.http_host not in LOOPBACK and not self.settings.api_token:
            raise ValueError(
                f"refusing to listen on {self.settings.http_host}: set CREDITFLOW_API_TOKEN"
                " when the dashboard is reachable from other machines"
            )

    def check_free(self) -> None:
        """Refuse to start beside a running `up` in the same home, or on a taken port."""
        runtime = self.settings.read_runtime()
        pid = runtime.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and _alive(pid):
            raise ValueError(
                f"creditflow is already running in {self.settings.home} (process {pid})"
            )
        host, port = self.settings.http_host, self.settings.http_port
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise ValueError(
                    f"cannot listen on {host}:{port} ({exc.strerror}): set CREDITFLOW_HTTP_PORT"
                    " to a free port"
                ) from None

    def start_infrastructure(self) -> Settings:
        """Start what is unset; return the settings every child gets."""
        home = self.settings.home
        home.mkdir(parents=True, exist_ok=True)
        settings = replace(self.settings)
        if not settings.database_url:
            postgres = EmbeddedPostgres(home / "pgdata").start()
            self.embedded.append(postgres)
            settings = replace(settings, database_url=postgres.url("postgres"))
        if not settings.kafka_bootstrap:
            broker = EmbeddedBroker(log_path=home / "logs" / "broker.log").start()
            self.embedded.append(broker)
            settings = replace(settings, kafka_bootstrap=broker.bootstrap)
        if not settings.smtp_url:
            sink = SmtpSink(home / "mail").start()
            self.embedded.append(sink)
            settings = replace(settings, smtp_url=sink.url)
        self.settings = settings
        return settings

    async def migrate(self) -> None:
        pool = await connect_pool(self.settings.require_database(), max_size=2)
        try:
            await apply_migrations(pool)
        finally:
            await pool.close()

    def write_runtime(self) -> None:
        runtime = {
            "database_url": self.settings.database_url,
            "kafka_bootstrap": self.settings.kafka_bootstrap,
            "smtp_url": self.settings.smtp_url,
            "dashboard_url": self.dashboard_url,
            "pid": os.getpid(),
        }
        path = self.settings.runtime_path
        path.write_text(json.dumps(runtime, indent=2))
        path.chmod(0o600)

    @property
    def dashboard_url(self) -> str:
        host = self.settings.http_host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{shown}:{self.settings.http_port}/"

    def child_env(self, child: Child) -> dict[str, str]:
        env = dict(os.environ)
        s = self.settings
        env.update(
            {
                "CREDITFLOW_DATABASE_URL": s.database_url or "",
                "CREDITFLOW_KAFKA_BOOTSTRAP": s.kafka_bootstrap or "",
                "CREDITFLOW_SMTP_URL": s.smtp_url or "",
                "CREDITFLOW_HOME": str(s.home.resolve()),
                "CREDITFLOW_TOPIC_PREFIX": s.topic_prefix,
                "CREDITFLOW_HTTP_HOST": s.http_host
                if child.service == "dashboard"
                else "127.0.0.1",
                "CREDITFLOW_HTTP_PORT": str(child.port),
            }
        )
        return env

    def start_children(self) -> None:
        for service in SERVICES:
            port = self.settings.http_port if service == "dashboard" else free_port()
            child = Child(service, port)
            self.children.append(child)
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        logs = self.settings.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        output = (logs / f"{child.service}.log").open("ab")
        child.process = subprocess.Popen(
            [sys.executable, "-m", "creditflow", "run", child.service],
            env=self.child_env(child),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        child.started_at = time.monotonic()
        output.close()

    def wait_until_serving(self, timeout: float = 60.0) -> None:
        for child in self.children:
            wait_for_port(
                "127.0.0.1"
                if child.service != "dashboard" or self.settings.http_host in ("0.0.0.0", "::")
                else self.settings.http_host,
                child.port,
                timeout,
            )

    def watch(self, stop: asyncio.Event | None = None) -> None:
        """Restart a child that died, with backoff, until asked to stop."""
        stopping = False

        def request_stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        try:
            while not stopping:
                time.sleep(0.5)
                for child in self.children:
                    assert child.process is not None
                    code = child.process.poll()
                    if code is None:
                        continue
                    if stopping:  # a SIGTERM to the whole group stops the children too
                        break
                    delay = min(2**child.restarts, 30)
                    if time.monotonic() - child.started_at < delay:
                        continue
                    child.restarts += 1
                    print(
                        f"creditflow: {child.service} exited with {code}; restarting"
                        f" (see {self.settings.home / 'logs' / (child.service + '.log')})",
                        file=sys.stderr,
                    )
                    self._spawn(child)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 12
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        for part in reversed(self.embedded):
            part.stop()
        self.embedded.clear()
        try:
            Path(self.settings.runtime_path).unlink()
        except FileNotFoundError:
            pass
