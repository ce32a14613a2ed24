"""`creditflow up --demo` as a bookkeeper runs it: embedded PostgreSQL, broker and SMTP sink,
every service, the demo administration imported, the dashboard served; Ctrl-C stops it all
and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import pytest

from shared.embedded import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _until(check: Callable[[], T | None], timeout: float, what: str, log: Path) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; up said:\n{log.read_text()}")
        time.sleep(0.25)


def _processes_using(path: Path) -> list[psutil.Process]:
    """Processes started for this test: their command line or working directory is inside
    its temporary directory (the embedded PostgreSQL daemonises away from its parent)."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        try:
            text = " ".join(process.info["cmdline"] or []) + " " + (process.info["cwd"] or "")
        except psutil.Error:
            continue
        if str(path) in text and process.pid != os.getpid():
            found.append(process)
    return found


@pytest.mark.timeout(240)
def test_up_demo_serves_the_dashboard_imports_the_demo_and_ctrl_c_stops_everything(
    tmp_path: Path,
) -> None:
    port = free_port()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITFLOW_")}
    env.update({"CREDITFLOW_HOME": str(home), "CREDITFLOW_HTTP_PORT": str(port)})
    log = tmp_path / "up.out"
    with log.open("w") as output:
        up = subprocess.Popen(
            [sys.executable, "-m", "creditflow", "up", "--demo"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, as in a terminal
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            _until(lambda: client.get("/healthz").status_code == 200, 120, "/healthz", log)

            def finished_run() -> dict[str, Any] | None:
                answer = client.get("/api/administrations/demo/imports")
                if answer.status_code != 200:  # the demo is registered after the services
                    return None
                return next((r for r in answer.json() if r["status"] != "running"), None)

            run = _until(
                finished_run,
                120,
                "the demo import to end",
                log,
            )
            assert run["status"] == "completed", run
            assert run["counts"]["invoice"]["added"] > 0
            errors = _until(
                lambda: client.get("/api/administrations/demo/errors").json(),
                30,
                "the demo's validation errors on the dashboard",
                log,
            )
            assert {e["code"] for e in errors} >= {"invalid_email", "due_before_invoice"}
            page = client.get("/administrations/demo")
            assert page.status_code == 200 and "Demo Trading" in page.text
        assert f"dashboard at {base}/" in log.read_text()

        family = psutil.Process(up.pid).children(recursive=True) + _processes_using(tmp_path)
        assert len(family) >= 6  # four services, the broker, PostgreSQL

        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C in a terminal
        assert up.wait(timeout=60) == 0, log.read_text()
        _, alive = psutil.wait_procs(family, timeout=15)
        assert alive == [], [p.info for p in alive]
        assert _processes_using(tmp_path) == []
        assert not (home / "runtime.json").exists()
        assert "restarting" not in log.read_text()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        for leftover in _processes_using(tmp_path):
            leftover.kill()
