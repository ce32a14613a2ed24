"""The `creditflow` command's arguments: every command answers --help, and every bad argument
ends in one line on stderr and exit status 2, before anything is started or changed."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from creditflow.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))


ALL_COMMANDS = list(_commands(build_parser()))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit:
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_contract_commands_are_all_there() -> None:
    names = {" ".join(c) for c in ALL_COMMANDS}
    assert {"up", "run", "admin add", "admin list", "import"} <= names


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: " ".join(c) or "creditflow")
def test_every_command_answers_help(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run([*command, "--help"], capsys)
    assert code == 0
    assert out.startswith("usage: creditflow")
    assert err == ""


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["launch"],
        ["admin"],
        ["admin", "add", "acme", "--source", "demo:1"],
        ["admin", "add", "--name", "X", "--source", "demo:1"],
        ["admin", "add", "acme", "--name", "X", "--source", "demo:1", "--import-mode", "hourly"],
        ["admin", "list", "--bogus"],
        ["run"],
        ["run", "mailer"],
        ["import"],
        ["import", "acme", "--timeout", "-1"],
        ["import", "acme", "--timeout", "soon"],
        ["import", "acme", "extra"],
        ["remind", "acme", "--wait", "--timeout", "-1"],
        ["pause", "acme", "vendor", "X"],
        ["plan", "set", "acme", "default", "--first", "x", "--interval", "7", "--count", "2"],
        ["case", "add", "acme", "K1", "--customer", "C1"],
        ["up", "--demo", "now"],
    ],
    ids=lambda argv: " ".join(argv) or "nothing",
)
def test_a_bad_argument_is_one_line_on_stderr_and_exit_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "error:" in err, err


@pytest.mark.parametrize(
    "argv",
    [
        ["admin", "add", "acme", "--name", "X", "--source", "ftp://x"],
        ["admin", "add", "acme", "--name", "X", "--source", "demo:1", "--import-at", "25:00"],
        ["admin", "add", "acme", "--name", "X", "--source", "demo:1", "--timezone", "Mars/Base"],
        ["admin", "add", "bad id", "--name", "X", "--source", "demo:1"],
        ["admin", "add", "acme", "--name", "X", "--source", "demo:1", "--minimum-amount", "-5"],
        ["admin", "add", "acme", "--name", "X", "--source", "demo:1", "--send-invoices-from", "x"],
    ],
    ids=lambda argv: argv[-1],
)
def test_a_bad_value_is_refused_before_any_database_is_opened(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, out, err = _run(argv, capsys)
    assert (code, out) == (2, "")
    assert err.startswith("creditflow: error: ") and err.count("\n") == 1, err


def test_without_a_database_a_command_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CREDITFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("CREDITFLOW_HOME", str(tmp_path))
    code, _, err = _run(["admin", "list"], capsys)
    assert code == 2
    assert err == (
        "creditflow: error: no database: set CREDITFLOW_DATABASE_URL or start"
        " `creditflow up` first\n"
    )


def test_an_unreachable_database_is_one_line_not_a_wait(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{port}/x")
    code, out, err = _run(["admin", "list"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("creditflow: error: cannot reach the database: ")
    assert err.count("\n") == 1, err


def _up(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CREDITFLOW_")}
    clean.update({"CREDITFLOW_HOME": str(tmp_path / "home"), **env})
    return subprocess.run(
        [sys.executable, "-m", "creditflow", "up"],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_up_refuses_a_non_loopback_address_without_a_token_and_starts_nothing(
    tmp_path: Path,
) -> None:
    done = _up(tmp_path, CREDITFLOW_HTTP_HOST="0.0.0.0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "CREDITFLOW_API_TOKEN" in done.stderr
    assert not (tmp_path / "home").exists()


def test_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _up(tmp_path, CREDITFLOW_HTTP_PORT=str(port))
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "home").exists()


def test_up_refuses_to_start_twice_in_the_same_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "runtime.json").write_text(json.dumps({"pid": os.getpid()}))  # alive: this test
    done = _up(tmp_path)
    assert done.returncode == 2
    assert "already running" in done.stderr and done.stderr.count("\n") == 1


def test_a_setting_that_is_not_a_number_is_named_in_one_line(tmp_path: Path) -> None:
    done = _up(tmp_path, CREDITFLOW_HTTP_PORT="eighty")
    assert done.returncode == 2
    assert done.stderr == (
        "creditflow: error: CREDITFLOW_HTTP_PORT must be a whole number, not 'eighty'\n"
    )
