"""The queue dashboard on the real embedded Valkey with the real Dramatiq ``RedisBroker``: the Redis layer (counts
per state, listing, one message, requeue and delete — and a real worker dead-letters a message with its traceback and
processes a requeued one), then the admin pages over HTTP (counts, a queue, one message's body, retries and
traceback, requeue and delete behind CSRF, admins only)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import dramatiq
import jwt
import pytest
from dramatiq.brokers.redis import RedisBroker
from sqlmodel import Session, col, select

from pipelines.admin import queues
from pipelines.admin.paging import PageRequest
from tests.support.admin import TRACEBACK, dead_letter, login, make_user, message
from voronka.errors import Conflict, NotFound

NS = "voronka"


def in_progress(broker: RedisBroker, msg: dramatiq.Message[Any]) -> str:
    sent = broker.enqueue(msg)
    assert len(broker.do_fetch("maintenance", 1)) == 1
    return str(sent.options["redis_message_id"])


def row(counts: list[dict[str, Any]], queue: str) -> dict[str, Any]:
    return next(r for r in counts if r["queue"] == queue)


async def test_counts_list_and_view_every_state(broker, aredis) -> None:  # type: ignore[no-untyped-def]
    dead_id = dead_letter(broker, message("integrate.action", 7, retries=3, max_retries=3, traceback=TRACEBACK))
    busy_id = in_progress(broker, message("maintenance.sweep"))
    ready = [broker.enqueue(message("maintenance.sweep", n)).options["redis_message_id"] for n in (1, 2)]
    later = broker.enqueue(message("knowledge.rescan"), delay=3_600_000).options["redis_message_id"]
    broker.enqueue(dramatiq.Message(queue_name="delivery", actor_name="outbox.deliver", args=(5,), kwargs={},
                                    options={}))

    counts = await queues.counts(aredis, NS)
    assert row(counts, "maintenance") == {"queue": "maintenance", "ready": 2, "delayed": 1, "in_progress": 1,
                                          "dead": 1}
    assert row(counts, "delivery")["ready"] == 1 and row(counts, "inbound")["ready"] == 0  # known, empty

    page = await queues.list_messages(aredis, NS, "maintenance", "ready", PageRequest(1, 1))
    assert page["total"] == 2 and page["pages"] == 2 and [m["id"] for m in page["items"]] == ready[:1]
    assert page["items"][0]["args"] == [1] and page["items"][0]["position"] == 1
    second = await queues.list_messages(aredis, NS, "maintenance", "ready", PageRequest(2, 1))
    assert [m["id"] for m in second["items"]] == ready[1:] and second["items"][0]["position"] == 2
    dead = (await queues.list_messages(aredis, NS, "maintenance", "dead", PageRequest()))["items"]
    assert [m["id"] for m in dead] == [dead_id] and dead[0]["error"] == "RuntimeError: channel is down"
    assert dead[0]["dead_at"] == pytest.approx(time.time(), abs=30)
    delayed = (await queues.list_messages(aredis, NS, "maintenance", "delayed", PageRequest()))["items"]
    assert [m["id"] for m in delayed] == [later] and not delayed[0]["held"]
    assert delayed[0]["eta"] == pytest.approx(time.time() + 3600, abs=30)
    busy = (await queues.list_messages(aredis, NS, "maintenance", "in_progress", PageRequest()))["items"]
    assert [m["id"] for m in busy] == [busy_id] and busy[0]["worker"] == broker.broker_id
    assert busy[0]["heartbeat_at"] == pytest.approx(time.time(), abs=30)

    shown = await queues.get_message(aredis, NS, "maintenance", dead_id)
    assert shown["state"] == "dead" and shown["actor"] == "integrate.action" and shown["args"] == [7]
    assert shown["retries"] == 3 and shown["max_retries"] == 3 and shown["traceback"] == TRACEBACK
    assert "traceback" not in shown["options"] and shown["message_id"] and shown["enqueued_at"]
    assert shown["can_requeue"] and shown["can_delete"]
    busy_shown = await queues.get_message(aredis, NS, "maintenance", busy_id)
    assert busy_shown["state"] == "in_progress" and not busy_shown["can_requeue"] and not busy_shown["can_delete"]
    assert (await queues.get_message(aredis, NS, "maintenance", ready[1]))["position"] == 2
    with pytest.raises(NotFound):
        await queues.get_message(aredis, NS, "maintenance", "no-such-id")


async def test_requeue_a_dead_letter_puts_it_on_the_queue_like_enqueue(broker, aredis, redis_client) -> None:  # type: ignore[no-untyped-def]
    dead_id = dead_letter(broker, message("maintenance.sweep", 2, retries=1, traceback=TRACEBACK))
    first = broker.enqueue(message("maintenance.sweep", 1)).options["redis_message_id"]
    assert redis_client.lrange("voronka:maintenance", 0, -1) == [first.encode()]

    done = await queues.requeue(aredis, NS, "maintenance", dead_id)
    assert done == {"id": dead_id, "from": "dead", "queue": "maintenance"}
    assert redis_client.lrange("voronka:maintenance", 0, -1) == [first.encode(), dead_id.encode()]
    assert redis_client.zcard("voronka:maintenance.XQ") == 0
    assert not redis_client.hexists("voronka:maintenance.XQ.msgs", dead_id)
    again = dramatiq.Message.decode(redis_client.hget("voronka:maintenance.msgs", dead_id))
    assert again.queue_name == "maintenance" and again.args == (2,)
    assert again.options["retries"] == 0 and again.options["requeues"] == 1
    assert again.options["redis_message_id"] == dead_id
    # what a worker fetches next is exactly that message
    fetched = broker.do_fetch("maintenance", 2)
    assert [dramatiq.Message.decode(m).options["redis_message_id"] for m in fetched] == [first, dead_id]
    with pytest.raises(NotFound):
        await queues.requeue(aredis, NS, "maintenance", dead_id + "-gone")
    with pytest.raises(Conflict):  # it is in progress now
        await queues.requeue(aredis, NS, "maintenance", dead_id)


async def test_requeue_and_delete_delayed_unless_a_worker_holds_it(broker, aredis, redis_client) -> None:  # type: ignore[no-untyped-def]
    waiting = broker.enqueue(message("maintenance.sweep", 1), delay=600_000).options["redis_message_id"]
    await queues.requeue(aredis, NS, "maintenance", waiting)
    moved = dramatiq.Message.decode(redis_client.hget("voronka:maintenance.msgs", waiting))
    assert moved.queue_name == "maintenance" and "eta" not in moved.options
    assert redis_client.lrange("voronka:maintenance", 0, -1) == [waiting.encode()]
    assert redis_client.hlen("voronka:maintenance.DQ.msgs") == 0 and redis_client.llen("voronka:maintenance.DQ") == 0

    held = broker.enqueue(message("maintenance.sweep", 2), delay=600_000).options["redis_message_id"]
    assert len(broker.do_fetch("maintenance.DQ", 1)) == 1  # a worker took it into memory until its eta
    shown = await queues.get_message(aredis, NS, "maintenance", held)
    assert shown["state"] == "delayed" and shown["held"] and not shown["can_requeue"] and not shown["can_delete"]
    with pytest.raises(Conflict):
        await queues.requeue(aredis, NS, "maintenance", held)
    with pytest.raises(Conflict):
        await queues.delete(aredis, NS, "maintenance", held)

    free = broker.enqueue(message("maintenance.sweep", 3), delay=600_000).options["redis_message_id"]
    assert (await queues.delete(aredis, NS, "maintenance", free))["from"] == "delayed"
    assert not redis_client.hexists("voronka:maintenance.DQ.msgs", free)
    assert redis_client.hexists("voronka:maintenance.DQ.msgs", held)  # the held one is untouched


async def test_delete_ready_and_dead_but_not_in_progress(broker, aredis, redis_client) -> None:  # type: ignore[no-untyped-def]
    dead_id = dead_letter(broker, message("maintenance.sweep", 1))
    busy_id = in_progress(broker, message("maintenance.sweep", 2))
    keep, drop = (broker.enqueue(message("maintenance.sweep", n)).options["redis_message_id"] for n in (3, 4))

    assert (await queues.delete(aredis, NS, "maintenance", drop))["from"] == "ready"
    assert redis_client.lrange("voronka:maintenance", 0, -1) == [keep.encode()]
    assert not redis_client.hexists("voronka:maintenance.msgs", drop)
    assert (await queues.delete(aredis, NS, "maintenance", dead_id))["from"] == "dead"
    assert redis_client.zcard("voronka:maintenance.XQ") == 0 and redis_client.hlen("voronka:maintenance.XQ.msgs") == 0
    with pytest.raises(Conflict):
        await queues.delete(aredis, NS, "maintenance", busy_id)
    assert redis_client.hexists("voronka:maintenance.msgs", busy_id)
    with pytest.raises(NotFound):
        await queues.delete(aredis, NS, "maintenance", drop)
    assert row(await queues.counts(aredis, NS), "maintenance") == {
        "queue": "maintenance", "ready": 1, "delayed": 0, "in_progress": 1, "dead": 0}


async def wait_for(check: Any, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_a_real_worker_dead_letters_and_processes_a_requeued_message(broker, aredis, redis_client, clean_db,
                                                                           start_worker) -> None:  # type: ignore[no-untyped-def]
    good = dead_letter(broker, message("maintenance.sweep"))  # dead while no worker ran; fine to run again
    bad = broker.enqueue(message("maintenance.sweep", "unexpected")).options["redis_message_id"]  # TypeError
    start_worker()

    async def two_dead() -> bool:
        return bool(row(await queues.counts(aredis, NS), "maintenance")["dead"] == 2)

    await wait_for(two_dead)
    failed = await queues.get_message(aredis, NS, "maintenance", bad)
    assert failed["state"] == "dead" and "TypeError" in (failed["traceback"] or "")
    assert failed["retries"] == 1 and failed["error"].startswith("TypeError")

    await queues.requeue(aredis, NS, "maintenance", good)

    async def processed() -> bool:
        counts = row(await queues.counts(aredis, NS), "maintenance")
        return bool(counts["ready"] == 0 and counts["in_progress"] == 0
                    and not redis_client.hexists("voronka:maintenance.msgs", good))

    await wait_for(processed)
    assert row(await queues.counts(aredis, NS), "maintenance")["dead"] == 1  # acked, not dead-lettered again
    with pytest.raises(NotFound):
        await queues.get_message(aredis, NS, "maintenance", good)


async def test_other_keys_in_the_namespace_are_not_queues(broker, aredis, redis_client) -> None:  # type: ignore[no-untyped-def]
    redis_client.set("voronka:ratelimit:site:1.2.3.4", 3)
    redis_client.set("voronka:admin:fail:anna", 1)
    redis_client.hset("voronka:memory:lead:5", "summary", "x")
    broker.enqueue(dramatiq.Message(queue_name="custom.q", actor_name="x.y", args=(), kwargs={}, options={}))
    names = [r["queue"] for r in await queues.counts(aredis, NS)]
    assert "custom.q" in names
    assert {"inbound", "delivery", "integrate", "maintenance", "documents", "deals"} <= set(names)
    assert not [n for n in names if ":" in n or n.endswith((".msgs", ".DQ", ".XQ"))]


# --- the pages over HTTP ---------------------------------------------------------------------------------------------

SECRET_TRACEBACK = ('Traceback (most recent call last):\n  File "workers/actors.py", line 52, in action\n'
                    'integrations.http.Unavailable: amoCRM 503 for client anna@example.com +7 916 123-45-67\n')


async def logged_in(client, engine, role: str = "admin") -> tuple[dict[str, str], str]:  # type: ignore[no-untyped-def]
    """(cookies, csrf) of a fresh user with that role."""
    make_user(engine, role, role=role)
    token = await login(client, role)
    return {"voronka_admin": token}, str(jwt.decode(token, options={"verify_signature": False})["csrf"])


def count_cell(html: str, queue: str, state: str) -> str:
    found = re.search(rf'data-count="{re.escape(queue)}:{state}"[^>]*>(?:<a [^>]*>)?(\d+)', html)
    assert found, f"no {queue}:{state} count on the page"
    return found.group(1)


async def test_ops_page_queue_page_and_message_page(client, clean_db, broker, redis_client) -> None:  # type: ignore[no-untyped-def]
    cookies, _ = await logged_in(client, clean_db)
    dead_id = dead_letter(broker, message("integrate.action", 41, retries=3, max_retries=3,
                                          traceback=SECRET_TRACEBACK))
    for n in (1, 2):
        broker.enqueue(message("maintenance.sweep", n))
    broker.enqueue(message("knowledge.rescan"), delay=3_600_000)

    ops = await (await client.get("/admin/ops", cookies=cookies)).text()
    assert [count_cell(ops, "maintenance", s) for s in queues.STATES] == ["2", "1", "0", "1"]
    assert count_cell(ops, "inbound", "ready") == "0" and 'href="/admin/ops/queues/maintenance?state=dead"' in ops
    assert 'data-refresh="/admin/ops/queues.json"' in ops  # admin.js polls it
    live = await client.get("/admin/ops/queues.json", cookies=cookies)
    assert live.status == 200 and live.headers["Cache-Control"] == "no-store"
    data = await live.json()
    assert data["redis_error"] is None and row(data["queues"], "maintenance") == {
        "queue": "maintenance", "ready": 2, "delayed": 1, "in_progress": 0, "dead": 1}

    ready = await (await client.get("/admin/ops/queues/maintenance", cookies=cookies)).text()
    assert ready.count('data-message="') == 2 and "maintenance.sweep" in ready and "Очередь" in ready
    delayed = await (await client.get("/admin/ops/queues/maintenance?state=delayed", cookies=cookies)).text()
    assert "knowledge.rescan" in delayed and "ждёт воркера" in delayed
    dead_page = await client.get("/admin/ops/queues/maintenance?state=dead", cookies=cookies)
    dead = await dead_page.text()
    assert dead_page.status == 200 and f'data-message="{dead_id}"' in dead and "integrate.action" in dead
    assert "amoCRM 503 for client ***@*** +7***" in dead and "anna@example.com" not in dead
    assert f'action="/admin/ops/queues/maintenance/messages/{dead_id}/requeue"' in dead

    page = await client.get(f"/admin/ops/queues/maintenance/messages/{dead_id}", cookies=cookies)
    html = await page.text()
    assert page.status == 200 and "Мёртвые" in html and "integrate.action" in html
    args = re.search(r'<pre class="code-block" id="message-args">(.*?)</pre>', html, re.S)
    assert args and args.group(1).split() == ["[", "41", "]"]
    retries = re.search(r'id="message-retries">(\d+)', html)
    assert retries and retries.group(1) == "3" and "повторов разрешено 3" in html
    shown = re.search(r'id="message-traceback">(.*?)</pre>', html, re.S)
    assert shown and "Traceback (most recent call last)" in shown.group(1) and "workers/actors.py" in shown.group(1)
    assert "anna@example.com" not in html and "916 123" not in html  # personal data masked as in the logs
    assert 'id="requeue"' in html and 'id="delete"' in html and "Как есть в Redis" not in html

    missing = await client.get("/admin/ops/queues/maintenance/messages/no-such-id", cookies=cookies)
    assert missing.status == 404 and "Сообщение не найдено" in await missing.text()
    assert (await client.get("/admin/ops/queues/maintenance?state=lost", cookies=cookies)).status == 422
    assert (await client.get("/admin/ops/queues/bad:name", cookies=cookies)).status == 422


async def test_requeue_and_delete_forms_need_the_csrf_value(client, clean_db, broker, redis_client) -> None:  # type: ignore[no-untyped-def]
    from db.models_ops import AdminAudit

    cookies, csrf = await logged_in(client, clean_db)
    dead_id = dead_letter(broker, message("maintenance.sweep", 9, traceback=TRACEBACK))
    ready_id = broker.enqueue(message("maintenance.sweep", 10)).options["redis_message_id"]
    base = "/admin/ops/queues/maintenance/messages"

    forged = await client.post(f"{base}/{dead_id}/requeue", data={"csrf": "guess"}, cookies=cookies,
                               allow_redirects=False)
    assert forged.status == 403 and "Форма устарела" in await forged.text()
    no_form = await client.post(f"{base}/{ready_id}/delete", cookies=cookies, allow_redirects=False)
    assert no_form.status == 403
    assert redis_client.zcard("voronka:maintenance.XQ") == 1 and redis_client.llen("voronka:maintenance") == 1

    done = await client.post(f"{base}/{dead_id}/requeue", data={"csrf": csrf}, cookies=cookies,
                             allow_redirects=False)
    assert done.status == 302 and done.headers["Location"] == "/admin/ops/queues/maintenance?state=dead&ok=requeued"
    assert redis_client.zcard("voronka:maintenance.XQ") == 0
    assert redis_client.lrange("voronka:maintenance", 0, -1) == [ready_id.encode(), dead_id.encode()]
    flashed = await (await client.get(done.headers["Location"], cookies=cookies)).text()
    assert "Сообщение снова в очереди" in flashed and "Мёртвых задач нет." in flashed

    deleted = await client.post(f"{base}/{ready_id}/delete", data={"csrf": csrf}, cookies=cookies,
                                allow_redirects=False)
    assert deleted.headers["Location"] == "/admin/ops/queues/maintenance?state=ready&ok=message_deleted"
    assert redis_client.lrange("voronka:maintenance", 0, -1) == [dead_id.encode()]
    assert not redis_client.hexists("voronka:maintenance.msgs", ready_id)

    again = await client.post(f"{base}/{ready_id}/delete", data={"csrf": csrf}, cookies=cookies,
                              allow_redirects=False)
    assert again.status == 302 and again.headers["Location"].startswith("/admin/ops/queues/maintenance?error=")
    assert "не найдено" in await (await client.get(again.headers["Location"], cookies=cookies)).text()
    busy_id = in_progress(broker, message("maintenance.sweep", 11))
    refused = await client.post(f"{base}/{busy_id}/requeue", data={"csrf": csrf}, cookies=cookies,
                                allow_redirects=False)
    assert refused.headers["Location"].startswith(f"{base}/{busy_id}?error=")
    with Session(clean_db) as session:
        logged = session.exec(select(AdminAudit).order_by(col(AdminAudit.id))).all()
    assert [(a.action, a.target, a.data) for a in logged if a.action.startswith("queue_")] == [
        ("queue_requeue", f"maintenance:{dead_id}", {"state": "dead"}),
        ("queue_delete", f"maintenance:{ready_id}", {"state": "ready"})]


async def test_the_queue_dashboard_is_for_admins_only(client, clean_db, broker, redis_client) -> None:  # type: ignore[no-untyped-def]
    dead_id = dead_letter(broker, message("maintenance.sweep", 1))
    url = f"/admin/ops/queues/maintenance/messages/{dead_id}"
    anonymous = await client.get("/admin/ops/queues/maintenance", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/admin/login?next=")
    assert (await client.get("/admin/ops/queues.json", allow_redirects=False)).status == 302
    cookies, csrf = await logged_in(client, clean_db, role="manager")
    for path in ("/admin/ops/queues/maintenance", url):
        assert (await client.get(path, cookies=cookies)).status == 403
    refused = await client.post(f"{url}/delete", data={"csrf": csrf}, cookies=cookies, allow_redirects=False)
    assert refused.status == 403 and redis_client.zcard("voronka:maintenance.XQ") == 1
    ops = await (await client.get("/admin/ops", cookies=cookies)).text()  # the counts, without links
    assert count_cell(ops, "maintenance", "dead") == "1" and "/admin/ops/queues/maintenance" not in ops
    live = await client.get("/admin/ops/queues.json", cookies=cookies)
    assert live.status == 200 and row((await live.json())["queues"], "maintenance")["dead"] == 1
