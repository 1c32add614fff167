"""Helpers of the browser tests (Debian's Chromium through Playwright; the ``browser`` fixture is in
tests/fixtures/browser.py): a page that records script errors, polling a JS condition, the screenshot folder."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}


def screenshot_dir() -> Path:
    path = Path(os.environ.get("VORONKA_SCREENSHOTS") or Path(tempfile.gettempdir()) / "voronka-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


async def wait_until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS function (page.wait_for_function would eval a string, which our CSP forbids)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.evaluate(expression):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        await asyncio.sleep(0.1)


async def new_page(browser: Any) -> Any:
    context = await browser.new_context(viewport=DESKTOP, locale="ru-RU", device_scale_factor=1)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "status of 401" not in msg.text else None)
    page.errors = errors
    return page
