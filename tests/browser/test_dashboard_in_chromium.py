"""The dashboard in headless Chromium, with the whole system behind it: a bookkeeper clicks
"Import now", sees the run complete and a bad customer's error appear (and the explain box
saying why that customer is not loaded), puts that customer on the ignore list, imports
again and sees the error resolved as ignored.

Chromium comes from the system (Debian's `chromium`), driven by Playwright's Python package;
the tests skip cleanly where either is missing.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from services.dashboard.app import build_app as build_dashboard
from services.importer.app import build_app as build_importer
from services.notifier.app import build_app as build_notifier
from services.validator.app import build_app as build_validator
from shared.embedded import free_port
from shared.settings import Settings
from shared.testing import running, write_export

playwright_api = pytest.importorskip("playwright.async_api", reason="Playwright is not installed")

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium installed (apt-get install chromium)", allow_module_level=True)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
GOOD = {
    "name": "Bakkerij De Korenschoof",
    "email": "administratie@korenschoof.nl",
    "street": "Dorpsstraat 1",
    "postal_code": "1234 AB",
    "city": "Amsterdam",
    "country": "NL",
}


def _export(directory: Path) -> Path:
    invoice = {
        "invoice_date": "2026-11-01",
        "due_date": "2026-12-01",
        "currency": "EUR",
        "amount_total": "121.00",
        "amount_open": "121.00",
        "payment_condition": "30D",
    }
    return write_export(
        directory,
        customers=[
            {**GOOD, "customer_number": "C1"},
            {**GOOD, "customer_number": "C2", "name": "Jan <b>de Vries</b>", "email": "jan@"},
        ],
        invoices=[
            {**invoice, "invoice_number": "F1", "customer_number": "C1"},
            {**invoice, "invoice_number": "F2", "customer_number": "C2"},
        ],
        payment_conditions=[{"code": "30D", "description": "30 days", "term_days": "30"}],
    )


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[str]:
    """Importer, validator, notifier and the dashboard on a free port; yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_dashboard(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    async with running(
        build_importer(settings), build_validator(settings), build_notifier(settings)
    ):
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await serving


@pytest.fixture
async def page(system: str) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(base_url=system, viewport={"width": 1280, "height": 900})
            page.set_default_timeout(45_000)
            script_errors: list[str] = []
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            yield page
            assert script_errors == []
        finally:
            await browser.close()


async def _import_now(page: Any) -> None:
    expect = playwright_api.expect
    await page.get_by_role("button", name="Import now").click()
    await expect(page.locator("#import-progress")).to_contain_text("import completed")
    await expect(page.get_by_role("button", name="Import now")).to_be_enabled()


async def test_a_bad_customer_appears_after_import_now_and_is_resolved_by_ignoring_it(
    page: Any, system: str, tmp_path: Path
) -> None:
    expect = playwright_api.expect
    await page.goto("/")
    form = page.locator("#add-administration")
    await form.locator('input[name="id"]').fill("acme")
    await form.locator('input[name="name"]').fill("Acme B.V.")
    await form.locator('input[name="source"]').fill(f"files:{_export(tmp_path / 'export')}")
    await form.locator('select[name="import_mode"]').select_option("manual")
    await form.get_by_role("button", name="Add administration").click()
    await expect(page).to_have_url(f"{system}/administrations/acme")
    await expect(page.locator("h1")).to_contain_text("Acme B.V.")
    await expect(page.locator("#section-errors")).to_contain_text("No open errors")

    await _import_now(page)

    run = page.locator("#section-imports tr.run").first
    await expect(run.locator(".status")).to_have_text("completed")
    error = page.locator('#section-errors tr.error-row[data-key="C2"]')
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("jan@")
    await expect(error).to_contain_text("Correct the e-mail address of this customer")
    assert await page.locator('tr.error-row[data-key="C1"]').count() == 0

    await _explain(page, "C2", "validation_error")

    await error.get_by_role("button", name="ignore…").click()
    ignore_form = page.locator("#ignore-form")
    await expect(ignore_form.locator('input[name="pattern"]')).to_have_value("C2")
    await ignore_form.get_by_role("button", name="Ignore").click()
    await expect(page.locator('#ignore-list tr.ignore-entry[data-pattern="C2"]')).to_be_visible()

    await _import_now(page)

    await expect(error).to_have_count(0)
    await expect(page.locator("#section-errors")).to_contain_text("No open errors")
    resolved = page.locator('#section-errors tr.resolved-row[data-key="C2"]')
    await expect(resolved).to_have_count(1)
    await expect(resolved.locator(".resolution")).to_have_text("ignored")
    await _explain(page, "C2", "ignored")

    # A pause through the form is listed at once, and lifted again with "resume".
    pause_form = page.locator("#pause-form")
    await pause_form.locator('select[name="entity"]').select_option("customer")
    await pause_form.locator('input[name="key"]').fill("C1")
    await pause_form.locator('select[name="mode"]').select_option("reminders")
    await pause_form.locator('input[name="reason"]').fill("payment plan <agreed>")
    await pause_form.get_by_role("button", name="Pause").click()
    paused = page.locator("#pause-list tr.pause-entry")
    await expect(paused).to_have_count(1)
    await expect(paused).to_contain_text("reminders only")
    await expect(paused).to_contain_text("payment plan <agreed>")
    await paused.get_by_role("button", name="resume").click()
    await expect(page.locator("#pause-list")).to_contain_text("Nothing is paused.")


async def _explain(page: Any, customer: str, reason: str) -> None:
    form = page.locator("#explain-form")
    await form.locator('select[name="entity"]').select_option("customer")
    await form.locator('input[name="key"]').fill(customer)
    await form.get_by_role("button", name="Explain").click()
    result = page.locator("#explain-result")
    await playwright_api.expect(result.locator("code.reason").first).to_be_visible()
    await playwright_api.expect(result).to_contain_text(reason)
