"""Take the dashboard screenshot shown in docs/dashboard.md.

    creditflow up --demo            # in one terminal; wait for the demo import
    python docs/screenshot.py       # in another: writes docs/dashboard.png

Uses the system's Chromium (Debian: apt-get install chromium) through Playwright's Python
package; no browser download.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path

from playwright.async_api import async_playwright

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def shoot(url: str, output: Path, width: int, token: str | None) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            page = await browser.new_page(
                viewport={"width": width, "height": 900}, extra_http_headers=headers
            )
            await page.goto(url)
            await page.wait_for_load_state("networkidle")
            await page.screenshot(path=str(output), full_page=True)
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/administrations/demo")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("dashboard.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--token", help="CREDITFLOW_API_TOKEN, when set")
    args = parser.parse_args()
    asyncio.run(shoot(args.url, args.output, args.width, args.token))
    print(args.output)


if __name__ == "__main__":
    main()
