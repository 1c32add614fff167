"""The queue dashboard in a real browser (Debian's Chromium through Playwright) on the real app and the real broker:
an admin opens «Система», sees the counts per state refresh by themselves, opens a dead letter (its arguments, retries
and traceback), puts it back on the queue, deletes a waiting message — with no script or CSP errors."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest

from tests.support.admin import PASSWORD, TRACEBACK, dead_letter, make_user, message
from tests.support.browser import new_page, screenshot_dir, wait_until

pytestmark = pytest.mark.browser


def cell(queue: str, state: str) -> str:
    return f'#queues [data-count="{queue}:{state}"]'


async def counts(page: Any, queue: str) -> list[str]:
    return [(await page.inner_text(cell(queue, s))).strip() for s in ("ready", "delayed", "in_progress", "dead")]


async def test_admin_sees_live_counts_and_requeues_a_dead_letter(browser, client, clean_db, broker,  # type: ignore[no-untyped-def]
                                                                 redis_client) -> None:
    make_user(clean_db, "root", role="admin")
    dead_id = dead_letter(broker, message("integrate.action", 17, retries=3, max_retries=3, traceback=TRACEBACK))
    waiting = broker.enqueue(message("maintenance.sweep", 1)).options["redis_message_id"]
    broker.enqueue(dramatiq.Message(queue_name="delivery", actor_name="outbox.deliver", args=(3,), kwargs={},
                                    options={}), delay=3_600_000)
    base = str(client.make_url("")).rstrip("/")
    shots = screenshot_dir()
    page = await new_page(browser)

    await page.goto(f"{base}/admin/ops")
    await page.fill("input[name=username]", "root")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/admin/ops")
    assert await counts(page, "maintenance") == ["1", "0", "0", "1"]
    assert await counts(page, "delivery") == ["0", "1", "0", "0"]
    assert "обновляется каждые 5 с" in await page.inner_text("#queues-status")

    # the page refreshes its counts by itself: a message enqueued now shows up without a reload
    broker.enqueue(message("maintenance.sweep", 2))
    await wait_until(page, "() => document.querySelector('#queues [data-count=\"maintenance:ready\"]')"
                           ".textContent.trim() === '2'")
    assert "обновлено в" in await page.inner_text("#queues-status")
    await page.screenshot(path=str(shots / "admin-ops-queues.png"), full_page=True)

    await page.click(f'{cell("maintenance", "dead")} a')
    await page.wait_for_url("**/admin/ops/queues/maintenance?state=dead")
    assert await page.locator("#queue-messages tbody tr.row-link").count() == 1
    assert "RuntimeError: channel is down" in await page.inner_text("#queue-messages")
    await page.locator(f'tr[data-message="{dead_id}"] td.excerpt').click()  # the row opens the message
    await page.wait_for_url(f"**/admin/ops/queues/maintenance/messages/{dead_id}")
    assert (await page.inner_text("#message-state")).strip() == "Мёртвые"
    assert (await page.inner_text("#message-args")).split() == ["[", "17", "]"]
    assert (await page.inner_text("#message-retries")).startswith("3")
    assert "RuntimeError: channel is down" in await page.inner_text("#message-traceback")
    await page.screenshot(path=str(shots / "admin-queue-message.png"), full_page=True)

    await page.click("#requeue")
    await page.wait_for_url("**/admin/ops/queues/maintenance?state=dead&ok=requeued")
    assert "Сообщение снова в очереди" in await page.inner_text(".flash-ok")
    assert "Мёртвых задач нет." in await page.inner_text("#queue-messages")
    assert (await page.inner_text('#queue-tabs [data-count="maintenance:dead"]')).strip() == "0"
    assert (await page.inner_text('#queue-tabs [data-count="maintenance:ready"]')).strip() == "3"
    assert redis_client.zcard("voronka:maintenance.XQ") == 0
    assert dead_id.encode() in redis_client.lrange("voronka:maintenance", 0, -1)

    # delete a waiting message: the browser asks first
    await page.goto(f"{base}/admin/ops/queues/maintenance/messages/{waiting}")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("#delete")
    await page.wait_for_url("**/admin/ops/queues/maintenance?state=ready&ok=message_deleted")
    assert await page.locator("#queue-messages tbody tr.row-link").count() == 2
    assert not redis_client.hexists("voronka:maintenance.msgs", waiting)
    await page.screenshot(path=str(shots / "admin-queue.png"), full_page=True)

    await page.goto(f"{base}/admin/ops")
    assert await counts(page, "maintenance") == ["2", "0", "0", "0"]
    assert page.errors == []
