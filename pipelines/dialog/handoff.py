"""The summary a manager reads when the bot hands a conversation over (Russian, plain text)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voronka.vocabulary import PACKAGE_TITLES, PACKAGES, PRICING_SLOTS, PRODUCT_INFO, PRODUCTS, channel_in_text

from . import texts
from .pricing import rub
from .slots import echo

if TYPE_CHECKING:
    from .state import DialogState

HISTORY_LINES = 6
LINE_LIMIT = 200
ROLE_NAMES = {"client": "Клиент", "assistant": "Ассистент", "manager": "Менеджер"}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LINE_LIMIT else text[: LINE_LIMIT - 1] + "…"


def build_summary(*, reason: str, channel: str, brief: dict[str, Any], state: DialogState,
                  history: list[dict[str, Any]], last_text: str | None) -> str:
    lines = [f"Причина: {texts.HANDOFF_REASONS.get(reason, reason)}.",
             f"Канал: {channel_in_text(channel)}."]
    contacts = [str(brief[key]) for key in ("name", "phone", "email") if brief.get(key)]
    lines.append("Клиент: " + (", ".join(contacts) if contacts else "контакты не оставил") + ".")
    product = brief.get("product")
    lines.append("Продукт: " + (PRODUCT_INFO[product].title if product in PRODUCTS else "не выбран") + ".")

    facts = []
    if brief.get("industry"):
        facts.append(f"сфера — {brief['industry']}")
    if brief.get("goals"):
        facts.append(f"задачи — {brief['goals']}")
    for slot in PRICING_SLOTS:
        if brief.get(slot) is not None:
            facts.append(str(echo(slot, brief[slot])))
    if brief.get("security"):
        facts.append(f"безопасность — {brief['security']}")
    lines.append("Бриф: " + ("; ".join(facts) if facts else "пока пуст") + ".")

    prices = state.quoted_prices
    if prices:
        shown = ", ".join(f"{PACKAGE_TITLES[code]} — {rub(int(prices[code]))}"
                          for code in PACKAGES if code in prices)
        lines.append(f"Расчёт: {shown}.")
    if state.package in PACKAGES:
        lines.append(f"Выбранный пакет: {PACKAGE_TITLES[state.package]}.")

    messages = [m for m in history if m.get("text")][-HISTORY_LINES:]
    if last_text and not (messages and messages[-1].get("role") == "client"
                          and messages[-1].get("text") == last_text):
        messages = [*messages, {"role": "client", "text": last_text}][-HISTORY_LINES:]
    if messages:
        lines.append("Последние сообщения:")
        for message in messages:
            role = ROLE_NAMES.get(str(message.get("role")), "Клиент")
            lines.append(f"{role}: {_short(str(message['text']))}")
    return "\n".join(lines)
