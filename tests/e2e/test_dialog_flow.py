"""Scripted dialogs through the site chat API with a real worker: greeting → brief → three priced packages → КП PDF."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from pipelines.price.engine import format_rub, quote
from pipelines.price.rates import DEFAULT_RATES


class Visitor:
    def __init__(self, client: Any, session_id: str) -> None:
        self.client, self.session_id, self.last_id = client, session_id, 0

    async def say(self, text: str | None = None, *, callback: str | None = None,
                  timeout: float = 30.0) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"session_id": self.session_id}
        body.update({"callback": callback} if callback else {"text": text})
        response = await self.client.post("/api/v1/site/messages", json=body)
        assert response.status == 202, await response.text()
        sent_id = (await response.json())["message_id"]
        deadline = time.monotonic() + timeout
        replies: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            response = await self.client.get("/api/v1/site/messages", params={
                "session_id": self.session_id, "after": str(max(self.last_id, sent_id)), "wait": "5"})
            messages = (await response.json())["messages"]
            new = [m for m in messages if m["role"] == "assistant"]
            if new:
                replies.extend(new)
                self.last_id = messages[-1]["id"]
                await asyncio.sleep(0.4)  # replies of one turn arrive together; collect stragglers
                response = await self.client.get("/api/v1/site/messages", params={
                    "session_id": self.session_id, "after": str(self.last_id)})
                more = [m for m in (await response.json())["messages"] if m["role"] == "assistant"]
                replies.extend(more)
                if more:
                    self.last_id = more[-1]["id"]
                return replies
        raise AssertionError(f"no reply to {text or callback!r}")


def joined(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r["text"] for r in replies)


def price_of(brief: dict[str, Any], code: str) -> str:
    result = quote(brief, DEFAULT_RATES)
    return format_rub(next(p.price for p in result.packages if p.code == code))


async def test_lawyer_brief_in_one_message_to_three_packages(client, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    visitor = Visitor(client, "flow-lawyer")
    first = joined(await visitor.say("Здравствуйте"))
    assert re.search(r"ИИ-(Менеджер|Юрист|Аналитик)", first)
    text = joined(await visitor.say("Нужен ИИ-юрист на 40 юристов, on-prem, нужно за неделю"))
    assert "юрист" in text.lower()
    replies: list[dict[str, Any]] = []
    answers = iter(["Юридическая фирма", "Проверка договоров", "Интеграций нет", "Стандарт", "Иван, ivan@example.ru",
                    "дальше", "дальше"])
    for _ in range(8):
        if "Старт" in text and "Enterprise" in text:
            break
        replies = await visitor.say(next(answers))
        text = joined(replies)
    brief = {"product": "ai_lawyer", "users": 40, "hosting": "onprem", "deadline": "lt1w", "integrations": 0,
             "sla": "standard"}
    assert "Старт" in text and "Оптимум" in text and "Enterprise" in text, text
    for code in ("start", "optimum", "enterprise"):
        assert price_of(brief, code).replace("\u00a0", " ") in text.replace("\u00a0", " ")
    # the offer comes with buttons, one of them asks for the КП
    buttons = [b for r in replies for b in r["buttons"]]
    proposal = next(b for b in buttons if b["callback"].startswith("doc:"))
    doc_replies = await visitor.say(callback=proposal["callback"], timeout=60)
    attachments = [a for r in doc_replies for a in r["attachments"]]
    for _ in range(3):
        if attachments:
            break
        doc_replies = await visitor.say(callback=proposal["callback"], timeout=60)
        attachments = [a for r in doc_replies for a in r["attachments"]]
    assert attachments and attachments[0]["url"].split("?")[0].rsplit("/", 2)[-2] == "d"
    path = "/" + attachments[0]["url"].split("/", 3)[3]
    response = await client.get(path)
    assert response.status == 200
    assert (await response.read()).startswith(b"%PDF")
    tampered = path.replace("sig=", "sig=x")
    assert (await client.get(tampered)).status == 403
