"""`creditflow pause|resume|pauses|case|plan|remind`: each command works, and bad input ends
with a one-line error, exit status 2 and nothing changed."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from creditflow.cli import main
from services.notifier.app import build_app as build_notifier
from shared.db import apply_migrations, connect_pool
from shared.settings import Settings
from shared.testing import TopicReader, running
from tests.integration.notifier_support import (
    add_admin,
    add_customers,
    add_invoices,
    local_today,
    mail_catcher,
    notifier_settings,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """Run `creditflow ARGS` in this process against the test's database and broker."""
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.require_database())
    monkeypatch.setenv("CREDITFLOW_KAFKA_BOOTSTRAP", settings.require_kafka())
    monkeypatch.setenv("CREDITFLOW_TOPIC_PREFIX", settings.topic_prefix)
    monkeypatch.setenv("CREDITFLOW_HOME", str(settings.home))
    asyncio.run(_data(settings))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse
            code = int(exit.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    yield run


async def _data(settings: Settings) -> None:
    pool = await connect_pool(settings.require_database(), max_size=1)
    await apply_migrations(pool)
    await add_admin(pool)
    await add_customers(pool, "acme", ["C1", "C2"])
    d = date(2027, 3, 1)
    await add_invoices(
        pool,
        "acme",
        [("F1", "C1", d, d, "10"), ("F2", "C1", d, d, "10"), ("G1", "C2", d, d, "10")],
    )
    await pool.close()


def _query(settings: Settings, sql: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        pool = await connect_pool(settings.require_database(), max_size=1)
        try:
            return [dict(row) for row in await pool.fetch(sql)]
        finally:
            await pool.close()

    return asyncio.run(fetch())


def _topic(settings: Settings, name: str, count: int) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        topic = f"{settings.topic_prefix}{name}"
        async with TopicReader(settings.require_kafka(), topic) as reader:
            return await reader.wait_for(lambda ms: len(ms) >= count, what=f"{count} messages")

    return asyncio.run(read())


def _state(settings: Settings) -> tuple[list[dict[str, Any]], ...]:
    return (
        _query(settings, "select * from pauses order by id"),
        _query(settings, "select * from cases order by case_key"),
        _query(settings, "select * from case_invoices order by invoice_number"),
        _query(settings, "select * from dunning_plans order by condition_code"),
    )


def _fails(run: Any, args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2, (args, code, out, err)
    assert err.count("\n") == 1 and message in err, (args, err)


def test_pause_pauses_and_resume_set_list_and_lift_a_pause(cli: Any, settings: Settings) -> None:
    until = (local_today() + timedelta(days=10)).isoformat()
    code, out, _ = cli(
        "pause", "acme", "customer", "C1", "--reminders-only", "--until", until,
        "--reason", "disputed", "--json",
    )  # fmt: skip
    assert code == 0
    pause = json.loads(out)
    assert {k: pause[k] for k in ("entity", "key", "mode", "until", "reason", "state")} == {
        "entity": "customer",
        "key": "C1",
        "mode": "reminders",
        "until": until,
        "reason": "disputed",
        "state": "active",
    }
    assert cli("pause", "acme")[0] == 0  # the whole administration
    code, out, _ = cli("pauses", "acme")
    assert code == 0 and "customer" in out and "disputed" in out and "administration" in out

    assert cli("resume", "acme", "customer", "C1")[0] == 0
    assert cli("resume", "acme")[0] == 0
    assert cli("pauses", "acme")[1] == "(none)\n"
    code, out, _ = cli("pauses", "acme", "--all", "--json")
    assert [p["state"] for p in json.loads(out)] == ["lifted", "lifted"]

    events = _topic(settings, "control", 4)
    assert [e["command"] for e in events] == [
        "pause_set",
        "pause_set",
        "pause_lifted",
        "pause_lifted",
    ]
    assert events[0]["detail"]["key"] == "C1" and events[0]["issued_by"] == "cli"


def test_bad_pause_commands_fail_with_one_line_and_change_nothing(
    cli: Any, settings: Settings
) -> None:
    assert cli("case", "add", "acme", "K1", "--customer", "C1", "--invoice", "F1")[0] == 0
    before = _state(settings)
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    _fails(cli, ["pause", "nobody"], "unknown administration 'nobody'")
    _fails(cli, ["pause", "acme", "--until", "2027-02-30"], "until '2027-02-30' is not a date")
    _fails(cli, ["pause", "acme", "--until", "next week"], "is not a date (YYYY-MM-DD)")
    _fails(cli, ["pause", "acme", "--until", yesterday], f"until {yesterday} is in the past")
    _fails(cli, ["pause", "acme", "invoice", "F1"], "invoice 'F1' is in case 'K1'")
    _fails(
        cli,
        ["pause", "acme", "invoice", "F2", "--reminders-only"],
        "only an administration or a customer can be paused for reminders only",
    )
    _fails(cli, ["pause", "acme", "case", "K1", "--reminders-only"], "a case is paused fully")
    _fails(cli, ["pause", "acme", "customer", "NOPE"], "customer 'NOPE' is not loaded")
    _fails(cli, ["pause", "acme", "case", "K9"], "case 'K9' does not exist")
    _fails(cli, ["pause", "acme", "customer"], "name the customer")
    _fails(cli, ["pause", "acme", "supplier", "S1"], "invalid choice: 'supplier'")
    _fails(cli, ["resume", "acme", "customer", "C1"], "customer C1 is not paused")
    _fails(cli, ["resume", "nobody"], "unknown administration 'nobody'")
    _fails(cli, ["pauses", "nobody"], "unknown administration 'nobody'")
    assert _state(settings) == before
    assert len(_topic(settings, "control", 1)) == 1  # only the case_added event


def test_case_add_groups_a_customers_invoices_and_refuses_what_does_not_fit(
    cli: Any, settings: Settings
) -> None:
    code, out, _ = cli(
        "case", "add", "acme", "K1", "--customer", "C1", "--invoice", "F1", "--invoice", "F2",
        "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) | {"created_at": None} == {
        "key": "K1",
        "customer": "C1",
        "invoices": ["F1", "F2"],
        "paused": False,
        "created_by": "cli",
        "created_at": None,
    }
    before = _state(settings)
    _fails(
        cli,
        ["case", "add", "acme", "K2", "--customer", "C1", "--invoice", "G1"],
        "invoice 'G1' belongs to customer 'C2', not 'C1'",
    )
    _fails(
        cli,
        ["case", "add", "acme", "K2", "--customer", "C1", "--invoice", "F1"],
        "invoice 'F1' is already in case 'K1'",
    )
    _fails(
        cli,
        ["case", "add", "acme", "K2", "--customer", "C1", "--invoice", "F9"],
        "invoice(s) F9 not loaded",
    )
    _fails(
        cli,
        ["case", "add", "acme", "K1", "--customer", "C2", "--invoice", "G1"],
        "case 'K1' belongs to customer 'C1', not 'C2'",
    )
    _fails(
        cli,
        ["case", "add", "acme", "K2", "--customer", "C9", "--invoice", "F1"],
        "customer 'C9' is not loaded",
    )
    _fails(cli, ["case", "add", "nobody", "K2", "--customer", "C1", "--invoice", "F1"], "unknown")
    _fails(cli, ["case", "add", "acme", "K2", "--customer", "C1"], "--invoice")
    assert _state(settings) == before
    code, out, _ = cli("case", "list", "acme")
    assert code == 0 and "K1" in out and "F1,F2" in out


def test_plan_set_and_list_keep_a_plan_per_payment_condition(cli: Any, settings: Settings) -> None:
    code, out, _ = cli(
        "plan", "set", "acme", "30D", "--first", "3", "--interval", "10", "--count", "1",
        "--no-final", "--json",
    )  # fmt: skip
    assert code == 0
    plan = json.loads(out)
    assert (plan["code"], plan["first_after_days"], plan["interval_days"]) == ("30D", 3, 10)
    assert (plan["count"], plan["final_notice"]) == (1, False)
    code, out, _ = cli("plan", "list", "acme", "--json")
    plans = json.loads(out)
    assert [(p["code"], p["count"], p["open_invoices"]) for p in plans] == [
        ("default", 2, 0),
        ("30D", 1, 3),
    ]
    before = _state(settings)
    _fails(cli, ["plan", "set", "acme", "30D", "--first", "3", "--interval", "0", "--count", "1"],
           "interval_days 0 must be between 1 and 365")  # fmt: skip
    _fails(cli, ["plan", "set", "acme", "30D", "--first", "-1", "--interval", "7", "--count", "1"],
           "first_after_days -1 must be between 0 and 3650")  # fmt: skip
    _fails(cli, ["plan", "set", "acme", "30D", "--first", "x", "--interval", "7", "--count", "1"],
           "invalid int value: 'x'")  # fmt: skip
    _fails(cli, ["plan", "set", "nobody", "30D", "--first", "1", "--interval", "7", "--count", "1"],
           "unknown administration 'nobody'")  # fmt: skip
    _fails(cli, ["plan", "list", "nobody"], "unknown administration 'nobody'")
    assert _state(settings) == before


def test_remind_publishes_a_reminder_run_request_and_refuses_bad_dates(
    cli: Any, settings: Settings
) -> None:
    code, out, _ = cli("remind", "acme", "--as-of", "2027-04-28", "--json")
    assert code == 0
    request_id = json.loads(out)["request_id"]
    _fails(cli, ["remind", "acme", "--as-of", "2027-13-01"], "as_of '2027-13-01' is not a date")
    _fails(cli, ["remind", "nobody"], "unknown administration 'nobody'")
    (request,) = _topic(settings, "reminder-requests", 1)
    assert request["request_id"] == request_id
    assert (request["administration_id"], request["as_of"]) == ("acme", "2027-04-28")
    assert request["requested_by"] == "cli"


async def test_the_creditflow_command_runs_a_reminder_run_and_waits_for_it(
    settings: Settings,
) -> None:
    pool = await connect_pool(settings.require_database(), max_size=1)
    await apply_migrations(pool)
    await add_admin(pool)
    await add_customers(pool, "acme", ["C1"])
    await add_invoices(pool, "acme", [("F1", "C1", date(2027, 1, 1), date(2027, 2, 1), "10")])
    await pool.close()
    async with mail_catcher() as smtp:
        configured = notifier_settings(settings, smtp)
        async with running(build_notifier(configured)):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "creditflow", "remind", "acme", "--as-of", "2027-04-28",
                "--wait", "--timeout", "60", "--json",
                cwd=REPO,
                env={
                    "PATH": "/usr/bin:/bin",
                    "CREDITFLOW_DATABASE_URL": settings.require_database(),
                    "CREDITFLOW_KAFKA_BOOTSTRAP": settings.require_kafka(),
                    "CREDITFLOW_TOPIC_PREFIX": settings.topic_prefix,
                    "CREDITFLOW_HOME": str(settings.home),
                },
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode()
    run = json.loads(out)
    assert (run["status"], run["as_of"], run["counts"]["sent"]) == ("completed", "2027-04-28", 1)
    assert smtp.subjects() == [
        "Eerste herinnering: factuur F1, € 10,00, vervallen op 1 februari 2027"
    ]
