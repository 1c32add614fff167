"""Telegram commands and deep links are never brief answers (issue #18 point 5, #15 defect 1).

Through the webhook, the bot's routers and a real worker: ``/start site_ai_lawyer`` in the middle of a brief sets the
product and records where the client came from, but stores nothing into the brief (it used to store users=2026 and
industry="/старт сите_…"); ``/help`` and ``/menu@bot`` answer the help text; the brief then goes on as before.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlmodel import Session, select

from db.models import Event, Lead
from pipelines.dialog import texts
from pipelines.leads import brief_for
from tests.fakes.telegram_fake import TelegramFake
from tests.support.channels import TG_PATH, TG_SECRET, tg_message

pytestmark = pytest.mark.channel_fakes

CHAT = 70411


async def _say(client: Any, tg: TelegramFake, text: str, timeout: float = 30.0) -> str:
    before = len(tg.messages.get(CHAT, []))
    response = await client.post(TG_PATH, json=tg_message(CHAT, text),
                                 headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert response.status == 200, await response.text()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(tg.messages.get(CHAT, [])) > before:
            await asyncio.sleep(0.6)  # the replies of one turn arrive together
            return "\n".join(m.get("text", "") for m in tg.messages[CHAT][before:])
        await asyncio.sleep(0.1)
    raise AssertionError(f"the bot did not answer {text!r}")


def _brief(engine: Any) -> dict[str, Any]:
    with Session(engine) as session:
        lead = session.exec(select(Lead)).one()
        assert lead.id is not None
        return dict(brief_for(session, lead.id).data)


async def test_commands_and_deep_links_never_fill_the_brief(
        client, worker, tg_fake: TelegramFake, engine) -> None:
    await _say(client, tg_fake, "Здравствуйте, у нас 12 сотрудников")
    assert _brief(engine).get("users") == 12

    await _say(client, tg_fake, "/start site_ai_lawyer")
    brief = _brief(engine)
    assert brief.get("product") == "ai_lawyer"
    assert {k: v for k, v in brief.items() if k != "product"} == {"users": 12}  # nothing else was stored
    with Session(engine) as session:
        link = session.exec(select(Event).where(Event.kind == "deep_link")).one()
        assert link.data == {"payload": "site_ai_lawyer", "source": "site", "product": "ai_lawyer"}

    await _say(client, tg_fake, "/start site_9f2026")  # digits in a payload are not a head count
    assert _brief(engine) == brief

    assert texts.HELP in await _say(client, tg_fake, "/help")
    assert texts.HELP in await _say(client, tg_fake, "/menu@voronka_bot")
    assert _brief(engine) == brief

    await _say(client, tg_fake, "15 юристов")  # the brief goes on
    assert _brief(engine).get("users") == 15
