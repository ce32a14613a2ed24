"""`creditflow admin` and `creditflow import` against a real database and broker: readable
tables, `--json` for scripts, and refusals (duplicates, unknown ids) in one line with exit
status 2 and nothing changed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from creditflow.cli import main
from services.control.admins import NewAdministration, add_administration
from services.importer.app import build_app as build_importer
from services.validator.app import build_app as build_validator
from shared.settings import Settings
from shared.testing import TopicReader, running, write_export

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    assert settings.database_url and settings.kafka_bootstrap
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CREDITFLOW_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("CREDITFLOW_TOPIC_PREFIX", settings.topic_prefix)
    monkeypatch.setenv("CREDITFLOW_HOME", str(settings.home))

    async def run(*argv: str) -> tuple[int, str, str]:
        # main() runs its own event loop: give it a thread, as a separate process would.
        def call() -> int:
            try:
                return main(list(argv))
            except SystemExit as exit:
                return int(exit.code or 0)

        code = await asyncio.to_thread(call)
        out, err = capsys.readouterr()
        return code, out, err

    return run


ADD = ["admin", "add", "acme", "--name", "Acme B.V.", "--source", "demo:7"]


async def test_admin_add_prints_the_administration_and_admin_list_shows_a_table(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = await cli(*ADD, "--import-at", "07:15", "--import-at", "13:00")
    assert (code, err) == (0, "")
    assert "acme" in out and "07:15,13:00" in out
    code, out, _ = await cli(
        "admin", "add", "beta", "--name", "Beta", "--source", "demo:1", "--json"
    )
    assert code == 0 and json.loads(out)["id"] == "beta"

    code, out, _ = await cli("admin", "list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:3] == ["ID", "NAME", "SOURCE"]
    assert [line.split()[0] for line in lines[1:]] == ["beta", "acme"]
    code, out, _ = await cli("admin", "list", "--json")
    assert [a["id"] for a in json.loads(out)] == ["beta", "acme"]


async def test_adding_an_administration_twice_is_refused_in_one_line_and_changes_nothing(
    cli,  # type: ignore[no-untyped-def]
) -> None:
    await cli(*ADD)
    code, out, err = await cli("admin", "add", "acme", "--name", "Other", "--source", "demo:2")
    assert (code, out) == (2, "")
    assert err == "creditflow: error: administration 'acme' already exists\n"
    _, listed, _ = await cli("admin", "list", "--json")
    assert [a["name"] for a in json.loads(listed)] == ["Acme B.V."]


async def test_importing_an_unknown_administration_is_refused_and_publishes_nothing(
    cli,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    code, out, err = await cli("import", "nobody")
    assert (code, out) == (2, "")
    assert err == "creditflow: error: unknown administration 'nobody'\n"
    assert settings.kafka_bootstrap
    async with TopicReader(
        settings.kafka_bootstrap, f"{settings.topic_prefix}import-requests"
    ) as requests:
        await requests.poll()
        assert requests.messages == []


async def test_import_publishes_the_contract_request_and_says_which(
    cli,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    await cli(*ADD)
    assert settings.kafka_bootstrap
    async with TopicReader(
        settings.kafka_bootstrap, f"{settings.topic_prefix}import-requests"
    ) as requests:
        code, out, err = await cli("import", "acme", "--json")
        (message,) = await requests.wait_for(lambda ms: len(ms) == 1, what="the request")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"request_id": message["request_id"], "administration_id": "acme"}
    assert (message["trigger"], message["requested_by"]) == ("manual", "cli")


async def test_import_wait_follows_the_run_and_prints_its_counts(
    cli,
    settings: Settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    export = write_export(
        tmp_path / "export",
        customers=[
            {
                "customer_number": "C1",
                "name": "Jansen",
                "email": "jan@example.nl",
                "street": "Dorpsstraat 1",
                "postal_code": "1234 AB",
                "city": "Utrecht",
                "country": "NL",
            },
        ],
        invoices=[
            {
                "invoice_number": "F1",
                "customer_number": "C1",
                "invoice_date": "2026-11-01",
                "due_date": "2026-12-01",
                "currency": "EUR",
                "amount_total": "10.00",
                "amount_open": "10.00",
                "payment_condition": "30D",
            },
        ],
        payment_conditions=[{"code": "30D", "description": "30 days", "term_days": "30"}],
    )
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    async with running(build_importer(settings), build_validator(settings)):
        await add_administration(
            pool,
            NewAdministration.parse({"id": "acme", "name": "Acme", "source": f"files:{export}"}),
        )
        await pool.close()
        code, out, err = await cli("import", "acme", "--wait", "--timeout", "60")
    assert (code, err) == (0, ""), err
    assert "status    completed" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:1].islower()}
    assert rows["customer"] == ["1", "0", "0", "0", "0"]
    assert rows["invoice"] == ["1", "0", "0", "0", "0"]


# Every command naming an administration, with otherwise valid arguments. The test below
# fails for a command missing here, so a new command gets the same check.
UNKNOWN_ADMINISTRATION = {
    "import": ["import", "nobody"],
    "ignore add": ["ignore", "add", "nobody", "customer", "C1"],
    "ignore remove": ["ignore", "remove", "nobody", "customer", "C1"],
    "ignore list": ["ignore", "list", "nobody"],
    "errors": ["errors", "nobody"],
    "explain": ["explain", "nobody", "customer", "C1"],
    "pause": ["pause", "nobody", "customer", "C1", "--reason", "holiday"],
    "resume": ["resume", "nobody", "customer", "C1"],
    "pauses": ["pauses", "nobody"],
    "case add": ["case", "add", "nobody", "K1", "--customer", "C1", "--invoice", "F1"],
    "case list": ["case", "list", "nobody"],
    "plan set": [
        "plan",
        "set",
        "nobody",
        "default",
        "--first",
        "7",
        "--interval",
        "7",
        "--count",
        "2",
    ],
    "plan list": ["plan", "list", "nobody"],
    "remind": ["remind", "nobody", "--as-of", "2026-12-03"],
}
WITHOUT_ADMINISTRATION = {"up", "run", "admin add", "admin list"}


def test_every_command_naming_an_administration_is_covered_below() -> None:
    from tests.unit.test_cli_arguments import ALL_COMMANDS

    leaves = {
        " ".join(c)
        for c in ALL_COMMANDS
        if c and not any(other[: len(c)] == c and other != c for other in ALL_COMMANDS)
    }
    assert leaves - WITHOUT_ADMINISTRATION == set(UNKNOWN_ADMINISTRATION)


async def test_every_command_refuses_an_unknown_administration_in_one_line_changing_nothing(
    cli,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    await cli(*ADD)
    assert settings.kafka_bootstrap
    for name, argv in UNKNOWN_ADMINISTRATION.items():
        code, out, err = await cli(*argv)
        assert (code, out) == (2, ""), (name, out, err)
        assert err.startswith("creditflow: error: ") and err.count("\n") == 1, (name, err)
        assert "nobody" in err, (name, err)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        assert await pool.fetchval("select count(*) from ignore_entries") == 0
        assert await pool.fetchval("select count(*) from outbox") == 0
    finally:
        await pool.close()
    for topic in ("import-requests", "control", "reminder-requests"):
        async with TopicReader(settings.kafka_bootstrap, f"{settings.topic_prefix}{topic}") as r:
            await r.poll()
            assert r.messages == [], topic
