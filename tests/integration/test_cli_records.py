"""The `creditflow ignore`, `errors` and `explain` commands against a real database and
broker: what they print, and bad input ending with one line on stderr, exit status 2 and
nothing changed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from creditflow.cli import main
from services.control.admins import NewAdministration, add_administration
from shared.db import apply_migrations, connect_pool
from shared.settings import Settings
from shared.testing import TopicReader
from shared.topics import Topics
from tests.integration.importing import Ledger, customer, invoice, load_directly

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def pool(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[asyncpg.Pool]:
    """acme loaded once (C2 erroneous, F3 held back with it), and the CLI's environment."""
    for name, value in {
        "CREDITFLOW_DATABASE_URL": settings.database_url,
        "CREDITFLOW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CREDITFLOW_TOPIC_PREFIX": settings.topic_prefix,
        "CREDITFLOW_HOME": str(tmp_path / "home"),
    }.items():
        monkeypatch.setenv(name, str(value))
    pool = await connect_pool(settings.require_database(), max_size=2)
    await apply_migrations(pool)
    ledger = Ledger(
        tmp_path / "export",
        customers=[customer("C1"), customer("C2", email="jan@")],
        invoices=[invoice("F1", "C1"), invoice("F3", "C2")],
    )
    source = f"files:{ledger.write()}"
    await add_administration(
        pool, NewAdministration.parse({"id": "acme", "name": "Acme", "source": source})
    )
    await load_directly(pool, Topics(settings.topic_prefix), "acme")
    try:
        yield pool
    finally:
        await pool.close()


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        """Run `creditflow ARGV` in this process (its own event loop, in a thread)."""
        self.capsys.readouterr()
        try:
            code = await asyncio.to_thread(main, list(argv))
        except SystemExit as exit_:  # argparse refusing an argument
            code = int(exit_.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err

    async def json(self, *argv: str) -> Any:
        code, out, err = await self(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


async def test_ignore_commands_add_list_and_remove_entries_and_announce_them(
    cli: Cli, pool: asyncpg.Pool, settings: Settings
) -> None:
    code, out, _ = await cli("ignore", "add", "acme", "customer", "TEST*")
    assert code == 0 and "TEST*" in out and "prefix" in out
    added = await cli.json("ignore", "add", "acme", "invoice", " 7001 ... 7002 ")
    assert (added["entity"], added["pattern"], added["kind"]) == ("invoice", "7001...7002", "range")
    listed = await cli.json("ignore", "list", "acme")
    assert [e["pattern"] for e in listed] == ["7001...7002", "TEST*"]
    code, out, _ = await cli("ignore", "list", "acme")
    assert out.splitlines()[0].split() == ["ENTITY", "PATTERN", "KIND", "CREATED_AT", "CREATED_BY"]

    removed = await cli.json("ignore", "remove", "acme", "customer", "TEST*")
    assert removed["pattern"] == "TEST*"
    assert [e["pattern"] for e in await cli.json("ignore", "list", "acme")] == ["7001...7002"]

    # Each change left on the control topic right after its commit.
    async with TopicReader(settings.kafka_bootstrap, Topics(settings.topic_prefix).control) as r:
        events = await r.wait_for(lambda ms: len(ms) >= 3, what="the control events")
    assert [(e["command"], e["detail"]["pattern"], e["issued_by"]) for e in events] == [
        ("ignore_added", "TEST*", "cli"),
        ("ignore_added", "7001...7002", "cli"),
        ("ignore_removed", "TEST*", "cli"),
    ]


async def test_bad_input_ends_with_one_line_exit_status_2_and_changes_nothing(
    cli: Cli, pool: asyncpg.Pool
) -> None:
    await cli("ignore", "add", "acme", "customer", "C1")
    entries = await pool.fetch("select * from ignore_entries")
    for argv, says in (
        (("ignore", "add", "acme", "customer", "C1"), "already on the ignore list"),
        (("ignore", "add", "acme", "customer", "A*B"), "only allowed at the end"),
        (("ignore", "add", "acme", "customer", "9...1"), "starts after it ends"),
        (("ignore", "add", "acme", "vendor", "X"), "invalid choice: 'vendor'"),
        (("ignore", "add", "ghost", "customer", "X"), "unknown administration 'ghost'"),
        (("ignore", "remove", "acme", "invoice", "C1"), "is not on the ignore list"),
        (("ignore", "list", "ghost"), "unknown administration 'ghost'"),
        (("errors", "ghost"), "unknown administration 'ghost'"),
        (("explain", "acme", "payment_condition", "30D"), "invalid choice"),
        (("explain", "ghost", "customer", "C1"), "unknown administration 'ghost'"),
        (("explain", "acme", "customer", " "), "may not be empty"),
    ):
        code, out, err = await cli(*argv)
        assert code == 2, (argv, out, err)
        assert says in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err
    assert await pool.fetch("select * from ignore_entries") == entries


async def test_errors_lists_open_errors_or_all_of_them(cli: Cli, pool: asyncpg.Pool) -> None:
    [error] = await cli.json("errors", "acme")
    assert (error["entity"], error["key"], error["code"], error["status"]) == (
        "customer",
        "C2",
        "invalid_email",
        "open",
    )
    code, out, _ = await cli("errors", "acme")
    assert code == 0 and "invalid_email" in out and "'jan@'" in out
    await pool.execute("update validation_errors set status = 'resolved', resolution = 'fixed'")
    assert await cli.json("errors", "acme") == []
    [resolved] = await cli.json("errors", "acme", "--all")
    assert resolved["resolution"] == "fixed"


async def test_explain_prints_the_reasons(cli: Cli, pool: asyncpg.Pool) -> None:
    code, out, _ = await cli("explain", "acme", "invoice", "F3")
    assert code == 0
    assert out.splitlines()[0] == "invoice F3:"
    assert "blocked_by_customer:" in out and "'jan@'" in out
    answer = await cli.json("explain", "acme", "customer", "C1")
    assert [r["code"] for r in answer["reasons"]] == ["up_to_date"]


async def test_the_installed_entry_point_reports_an_unknown_administration(
    pool: asyncpg.Pool,
) -> None:
    # Environment from the fixture (monkeypatched os.environ) is inherited.
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "creditflow", "ignore", "add", "ghost", "customer", "X"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert done.stderr.strip() == "creditflow: error: unknown administration 'ghost'"
