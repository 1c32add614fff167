"""A site visitor talking to the real app through the site chat API (the ``client`` fixture) and waiting for the
bot's replies, as the widget does."""

from __future__ import annotations

import asyncio
import time
from typing import Any


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
