"""The site in a real browser: Debian's Chromium through Playwright, the real app on a free port (embedded Postgres
and Redis) and, for the chat, a real Dramatiq worker. Screenshots go to $VORONKA_SCREENSHOTS or a temp folder —
never into the repository."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.browser import DESKTOP, screenshot_dir

pytestmark = pytest.mark.browser

MOBILE = {"width": 390, "height": 844}
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


@pytest.fixture
def base_url(client) -> str:  # type: ignore[no-untyped-def]
    """The real app served by aiohttp's TestServer on a free port (the ``client`` fixture's server)."""
    return str(client.make_url("")).rstrip("/")


async def new_page(browser, size: dict[str, int] = DESKTOP):  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport=size, locale="ru-RU", device_scale_factor=1)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # CSP violations, script errors and failed loads; a 422 is the calculator's expected answer to a wrong value
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "status of 422" not in msg.text else None)
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def wait_until(page, expression: str, arg: Any = None, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a JS function in the page. (page.wait_for_function evaluates strings with eval, which the strict CSP of
    our pages forbids — as it should.)"""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.evaluate(expression, arg):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        await asyncio.sleep(0.1)


async def prices(page) -> list[int]:  # type: ignore[no-untyped-def]
    values = await page.eval_on_selector_all("[data-package]", "els => els.map(e => e.dataset.priceValue || '')")
    return [int(v) for v in values if v]


async def test_calculator_follows_the_inputs(browser, base_url) -> None:  # type: ignore[no-untyped-def]
    page = await new_page(browser)
    await page.goto(base_url + "/")
    await wait_until(page, "() => document.querySelectorAll('[data-package][data-price-value]').length === 3")
    await page.screenshot(path=str(screenshot_dir() / "landing-desktop-top.png"))
    before = await prices(page)
    assert len(before) == 3 and before == sorted(before)
    assert "₽" in await page.inner_text('[data-package="start"] [data-price]')

    await page.fill("#calc-users", "120")
    await wait_until(
        page, "p => document.querySelector('[data-package=\"start\"]').dataset.priceValue !== String(p)", before[0])
    after = await prices(page)
    assert all(a > b for a, b in zip(after, before, strict=True))
    includes = await page.inner_text('[data-package="optimum"] [data-includes]')
    assert "Сопровождение 3 месяца" in includes

    await page.click('label:has(input[name="product"][value="ai_lawyer"])')
    await wait_until(
        page, "() => document.querySelector('[data-package=\"start\"] [data-includes]').innerText.includes('договор')")

    # an invalid value: the server's Russian message next to the field, prices stay
    await page.fill("#calc-users", "0")
    error = page.locator('[data-error-for="users"]')
    await error.wait_for(state="visible")
    assert CYRILLIC.search(await error.inner_text())
    await page.fill("#calc-users", "40")
    await error.wait_for(state="hidden")

    await page.locator("#calculator").screenshot(path=str(screenshot_dir() / "calculator-desktop.png"))
    await page.screenshot(path=str(screenshot_dir() / "landing-desktop.png"), full_page=True)
    assert not page.errors, page.errors


async def test_landing_on_a_phone(browser, base_url) -> None:  # type: ignore[no-untyped-def]
    page = await new_page(browser, MOBILE)
    await page.goto(base_url + "/")
    await wait_until(page, "() => document.querySelectorAll('[data-package][data-price-value]').length === 3")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= MOBILE["width"], "the page scrolls sideways on a phone"
    fonts = await page.evaluate("document.fonts.check('16px Inter') && document.fonts.check('800 32px Manrope')")
    assert fonts
    await page.screenshot(path=str(screenshot_dir() / "landing-mobile-top.png"))
    await page.screenshot(path=str(screenshot_dir() / "landing-mobile.png"), full_page=True)
    assert not page.errors, page.errors


async def test_brief_form_thanks_the_visitor_and_stores_the_lead(browser, base_url, engine) -> None:  # type: ignore[no-untyped-def]
    page = await new_page(browser)
    await page.goto(base_url + "/#brief")
    await page.click('[data-lead-form] button[type="submit"]')
    assert CYRILLIC.search(await page.inner_text('[data-error-for="name"]'))
    assert "телефон или e-mail" in await page.inner_text('[data-error-for="phone"]')
    assert await page.inner_text('[data-error-for="consent"]')

    await page.fill("#lead-name", "Анна Петрова")
    await page.fill("#lead-phone", "8 915 123-45-67")
    await page.fill("#lead-company", "Мебель Плюс")
    await page.select_option("#lead-product", "ai_manager")
    await page.fill("#lead-comment", "1 800 обращений в месяц, 70% с Avito")
    await page.check('[data-lead-form] input[name="consent"]')
    await page.locator("[data-lead-form]").screenshot(path=str(screenshot_dir() / "form-filled.png"))
    await page.click('[data-lead-form] button[type="submit"]')
    done = page.locator("[data-form-done]")
    await done.wait_for(state="visible")
    assert "Спасибо" in await done.inner_text()
    await page.locator("#brief").screenshot(path=str(screenshot_dir() / "form-done.png"))

    session = await page.evaluate("localStorage.getItem('voronka.site.session')")
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT m.payload, l.source_tag, c.external_chat_id FROM messages m JOIN leads l ON l.id = m.lead_id "
            "JOIN conversations c ON c.id = m.conversation_id WHERE m.kind = 'form'")).one()
    assert row.payload["phone"] == "+79151234567" and row.source_tag == "site-lead"
    assert row.external_chat_id == session  # the form and the chat widget share the visitor's session
    assert not page.errors, page.errors


async def test_widget_conversation(browser, base_url, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    page = await new_page(browser)
    await page.goto(base_url + "/")
    await page.click("#voronka-chat-widget .fab")
    panel = page.locator("#voronka-chat-widget .panel")
    await panel.wait_for(state="visible")
    await page.locator("#voronka-chat-widget .msg.local").wait_for()  # the welcome with suggestions
    await page.screenshot(path=str(screenshot_dir() / "widget-open-desktop.png"))

    textarea = page.locator("#voronka-chat-widget textarea")
    await textarea.fill("Здравствуйте")
    await textarea.press("Enter")
    client_bubble = page.locator("#voronka-chat-widget .msg.client .bubble", has_text="Здравствуйте")
    await client_bubble.wait_for()
    reply = page.locator("#voronka-chat-widget .msg.assistant .bubble").first
    await reply.wait_for(timeout=30_000)
    assert CYRILLIC.search(await reply.inner_text())
    assert await page.locator("#voronka-chat-widget .typing.on").count() == 0
    await page.screenshot(path=str(screenshot_dir() / "widget-reply-desktop.png"))

    buttons = page.locator("#voronka-chat-widget .msg.assistant .choice")
    if await buttons.count():
        replies_before = await page.locator("#voronka-chat-widget .msg.assistant").count()
        label = (await buttons.first.inner_text()).strip()
        await buttons.first.click()
        await page.locator("#voronka-chat-widget .msg.client .bubble", has_text=label).wait_for()
        await wait_until(
            page, "n => document.querySelector('#voronka-chat-widget').shadowRoot"
            ".querySelectorAll('.msg.assistant').length > n", replies_before, timeout=30)
        await page.screenshot(path=str(screenshot_dir() / "widget-button-desktop.png"))

    # the conversation survives a reload: same session, history shown again
    await page.reload()
    await page.click("#voronka-chat-widget .fab")
    await page.locator("#voronka-chat-widget .msg.client .bubble", has_text="Здравствуйте").wait_for()
    assert not page.errors, page.errors


async def test_get_proposal_sends_the_brief_to_the_chat(browser, base_url, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    page = await new_page(browser, MOBILE)
    await page.goto(base_url + "/")
    await wait_until(page, "() => document.querySelectorAll('[data-package][data-price-value]').length === 3")
    await page.click('label:has(input[name="product"][value="ai_lawyer"])')
    await page.fill("#calc-users", "40")
    await page.click("[data-get-proposal]")
    sent = page.locator("#voronka-chat-widget .msg.client .bubble").first
    await sent.wait_for()
    assert (await sent.inner_text()).startswith("Рассчитайте стоимость: ИИ-Юрист, 40 пользователей")
    await page.locator("#voronka-chat-widget .msg.assistant .bubble").first.wait_for(timeout=30_000)
    await page.screenshot(path=str(screenshot_dir() / "widget-mobile.png"))
    assert not page.errors, page.errors


async def test_widget_demo_embeds_by_script_tag(browser, base_url) -> None:  # type: ignore[no-untyped-def]
    page = await new_page(browser)
    await page.goto(base_url + "/widget-demo")
    await page.click("#voronka-chat-widget .fab")
    await page.locator("#voronka-chat-widget .panel").wait_for(state="visible")
    # the widget's styles are its own: the page's stylesheet does not reach into it
    radius = await page.evaluate(
        "getComputedStyle(document.querySelector('#voronka-chat-widget').shadowRoot.querySelector('.panel'))"
        ".borderTopLeftRadius")
    assert radius == "20px"
    await page.screenshot(path=str(screenshot_dir() / "widget-demo.png"))
    assert not page.errors, page.errors
