"""Each benchmark runs, as its one command, on a small size, and its counts are right.

Speed is never asserted here (bench/README.md holds the figures): only that every command ends
with its one line of figures, ratio last, and that nothing was lost, duplicated or written
when it should not be. The benchmarks run against this session's broker and PostgreSQL
server, each in a fresh database with its own topics.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(kafka_bootstrap: str, postgres_server_url: str):  # type: ignore[no-untyped-def]
    """Run `python bench/NAME.py ARGS`; its last line as {name: value} (numbers as float)."""

    def run(name: str, *args: str) -> tuple[dict[str, object], list[str]]:
        env = dict(os.environ)
        env.update(
            CREDITFLOW_KAFKA_BOOTSTRAP=kafka_bootstrap,
            CREDITFLOW_DATABASE_URL=postgres_server_url,
        )
        done = subprocess.run(
            [sys.executable, f"bench/{name}.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=280,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        lines = done.stdout.strip().splitlines()
        figures: dict[str, object] = {}
        for item in lines[-1].split():
            name_, _, value = item.partition("=")
            try:
                figures[name_] = float(value)
            except ValueError:
                figures[name_] = value
        assert list(figures)[-1] == "ratio", lines[-1]
        return figures, lines

    return run


@pytest.mark.xdist_group("bench-import")
def test_import_throughput_loads_every_outstanding_record(bench) -> None:  # type: ignore[no-untyped-def]
    figures, _ = bench("import_throughput", "--invoices", "300")
    assert figures["records"] == figures["expected_records"] > 300
    assert list(figures)[-3:] == ["records_per_s", "pg_upsert_raw_per_s", "ratio"]
    # The CPU the run cost bounds the ratio any scheduling could reach on these cores.
    assert figures["cpu_s"] > figures["validator_cpu_s"] > 0  # type: ignore[operator]
    assert figures["ratio_at_full_cores"] > 0  # type: ignore[operator]
    for limit in ("pg_upsert_raw_per_s", "broker_produce_raw_per_s", "broker_consume_raw_per_s"):
        assert figures[limit] > 0  # type: ignore[operator]


@pytest.mark.xdist_group("bench-reimport")
def test_reimport_reports_the_unchanged_records(bench) -> None:  # type: ignore[no-untyped-def]
    figures, _ = bench("reimport", "--invoices", "300")
    assert figures["unchanged"] > 300  # type: ignore[operator]
    assert figures["rows_written"] == 0
    assert figures["one_changed_rows_written"] == 1


@pytest.mark.xdist_group("bench-reminders")
def test_reminders_selects_and_records_every_due_reminder(bench) -> None:  # type: ignore[no-untyped-def]
    figures, _ = bench("reminders", "--invoices", "300")
    assert figures["selected"] == figures["expected_due"] > 0
    assert figures["selected_again"] == figures["selected"]
    # A Saturday: every due reminder held back, recorded once, and none sent.
    assert figures["recorded"] == figures["suppressed"] == figures["selected"]
    assert figures["sent"] == 0


@pytest.mark.xdist_group("bench-sending")
def test_sending_sends_every_due_reminder_once(bench) -> None:  # type: ignore[no-untyped-def]
    figures, _ = bench("sending", "--invoices", "200")
    # A working day: every due reminder sent, and each reached the server under its own id.
    assert figures["sent"] == figures["due"] > 0
    assert figures["received"] == figures["distinct_message_ids"] == figures["sent"]
    assert figures["suppressed"] == 0
    assert list(figures)[-3:] == ["sent_per_s", "smtp_raw_per_s", "ratio"]


@pytest.mark.xdist_group("bench-memory")
def test_memory_reports_every_process(bench) -> None:  # type: ignore[no-untyped-def]
    figures, _ = bench("memory", "--invoices", "400", "--customers", "80")
    assert figures["records"] == figures["expected_records"]
    for process in ("importer", "validator", "driver"):
        assert 0 < figures[f"{process}_peak_rss_mb"] < figures["limit_mb"]  # type: ignore[operator]


@pytest.mark.xdist_group("bench-scaling")
def test_scaling_loses_and_duplicates_nothing(bench) -> None:  # type: ignore[no-untyped-def]
    figures, lines = bench("scaling", "--invoices", "200", "--instances", "1,2")
    assert figures["all_ok"] == "True"
    table = [line.split(" | ") for line in lines[:-1]]
    assert table[0][0] == "validators" and [row[0] for row in table[1:]] == ["1", "2"]
    records = table[0].index("records")
    assert {row[records] for row in table[1:]} == {str(int(figures["expected_records"]))}  # type: ignore[arg-type]


@pytest.mark.xdist_group("bench-notifications")
def test_notifications_list_reads_the_newest_page(bench) -> None:  # type: ignore[no-untyped-def]
    figures, _ = bench("notifications_list", "--notifications", "1000")
    assert figures["listed"] == 200 and figures["invoice_listed"] == 1
    assert list(figures)[-3:] == ["newest_page_ms", "raw_page_ms", "ratio"]


@pytest.mark.xdist_group("bench-outbox")
def test_outbox_relay_publishes_every_event(bench) -> None:  # type: ignore[no-untyped-def]
    figures, _ = bench("outbox_relay", "--events", "3000")
    assert figures["published"] == figures["events"] == 3000
    assert figures["notification_events"] == 3000
    assert figures["left_in_outbox"] == 0
    assert list(figures)[-3:] == ["relay_per_s", "aiokafka_raw_per_s", "ratio"]
