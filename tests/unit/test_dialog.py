"""The dialog brain, driven like a client would: scripted conversations through ``decide``.

Understanding comes from the offline NLU when it is there (``pipelines.understand.offline``) and, in every case,
from hand-written Understanding objects, so the dialog logic is tested on its own as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from db.rate_table import DEFAULT_RATES
from pipelines.dialog.engine import decide, expecting_slot
from pipelines.dialog.state import DialogState
from pipelines.dialog.types import Button, Decision, DialogInput, Knowledge
from pipelines.price.engine import calculate, format_rub, validate_brief
from pipelines.understand.types import Understanding
from voronka.vocabulary import Product

MSK = ZoneInfo("Europe/Moscow")
WORK_TIME = datetime(2026, 11, 24, 12, 0, tzinfo=MSK)  # Tuesday noon
MARKDOWN = re.compile(r"[*_#`]")
PRODUCT_NAMES = {"ai_manager": "ИИ-Менеджер", "ai_lawyer": "ИИ-Юрист", "ai_analyst": "ИИ-Аналитик"}


def U(intent: str = "brief", product: str = "none", emotion: str = "neutral", confidence: float = 0.9,
      **slots: Any) -> Understanding:
    return Understanding(intent=intent, product=product, emotion=emotion,  # type: ignore[arg-type]
                         slots=slots, confidence=confidence)


def offline_nlu() -> Callable[..., Understanding]:
    from pipelines.understand.offline import understand_offline

    return understand_offline


@dataclass
class Chat:
    """One conversation: keeps state, brief, history and counts quotes like the caller does."""

    channel: str = "telegram"
    state: DialogState = field(default_factory=DialogState)
    brief: dict[str, Any] = field(default_factory=dict)
    max_recalc: int = 20
    now: datetime = WORK_TIME
    use_nlu: bool = False
    quotes_done: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # every question step asked, in order
    decisions: list[Decision] = field(default_factory=list)

    def _run(self, text: str | None, callback: str | None, u: Understanding,
             knowledge: list[Knowledge] | None = None) -> Decision:
        decision = decide(DialogInput(
            channel=self.channel, text=text, callback=callback, understanding=u, state=self.state,
            brief=self.brief, history=list(self.history[-20:]), knowledge=knowledge or [], rates=DEFAULT_RATES,
            quotes_done=self.quotes_done, max_quote_recalculations=self.max_recalc, now=self.now))
        self.state, self.brief = decision.state, decision.brief
        if decision.quote is not None:
            self.quotes_done += 1
        if text:
            self.history.append({"role": "client", "text": text})
        for reply in decision.replies:
            self.history.append({"role": "assistant", "text": reply.text})
        step = self.state.step
        if decision.replies and step and step not in ("offer",):
            self.asked.append(step)
        self.decisions.append(decision)
        return decision

    def send(self, text: str, u: Understanding | None = None, knowledge: list[Knowledge] | None = None) -> Decision:
        if self.use_nlu or u is None:
            u = offline_nlu()(text, current_product=self.brief.get("product"), expecting=expecting_slot(self.state))
        return self._run(text, None, u, knowledge)

    def press(self, callback: str) -> Decision:
        return self._run(None, callback, Understanding())


def all_text(decision: Decision) -> str:
    return "\n".join(r.text for r in decision.replies)


def all_buttons(decision: Decision) -> list[Button]:
    return [b for r in decision.replies for b in r.buttons]


def callbacks(decision: Decision) -> set[str]:
    return {b.callback for b in all_buttons(decision)}


def engine_prices(brief: dict[str, Any]) -> dict[str, str]:
    result = calculate(validate_brief({k: brief.get(k) for k in
                                       ("product", "users", "integrations", "hosting", "sla", "deadline")}),
                       DEFAULT_RATES)
    return {p.code: format_rub(p.price) for p in result.packages}


def assert_channel_form(chat: Chat) -> None:
    """Avito: no buttons, no Markdown. Telegram/site: closed questions carry buttons."""
    for decision in chat.decisions:
        for reply in decision.replies:
            if chat.channel == "avito":
                assert reply.buttons == [], reply.text
                assert not MARKDOWN.search(reply.text), reply.text


# --- scripted dialogs, one per product --------------------------------------------------------------------

SCRIPTS: dict[str, list[tuple[str, Understanding]]] = {
    "ai_manager": [
        ("Добрый день! Актуально?", U("greeting")),
        ("Нужен бот, который отвечает клиентам", U("brief", "ai_manager")),
        ("Интернет-магазин мебели", U("brief", industry="розница")),
        ("12 менеджеров", U(users=12)),
        ("Не терять заявки ночью", U(goals="не терять заявки ночью")),
        ("amoCRM и телефония", U(integrations=2)),
        ("в облаке", U(hosting="cloud")),
        ("стандарт", U(sla="standard")),
        ("за две недели", U(deadline="lt2w")),
        ("Ольга, olga@shop.ru", U(name="Ольга", email="olga@shop.ru")),
    ],
    "ai_lawyer": [
        ("Здравствуйте", U("greeting")),
        ("юрист", U("brief", "ai_lawyer")),
        ("строительство", U(industry="строительство")),
        ("нас 40 юристов", U(users=40)),
        ("проверять договоры быстрее", U(goals="проверять договоры быстрее")),
        ("1С и СЭД", U(integrations=2)),
        ("свои серверы", U(hosting="onprem")),
        ("99,5", U(sla="99.5")),
        ("обычные сроки", U(deadline="standard")),
        ("Игорь +79261234567", U(name="Игорь", phone="+79261234567")),
    ],
    "ai_analyst": [
        ("Привет", U("greeting")),
        ("аналитика интересует", U("brief", "ai_analyst")),
        ("сеть кафе", U(industry="общепит")),
        ("человек 7", U(users=7)),
        ("видеть прибыль по филиалам", U(goals="видеть прибыль по филиалам")),
        ("iiko, 1С, Яндекс Директ и Метрика", U(integrations=4)),
        ("гибрид", U(hosting="hybrid")),
        ("99,9", U(sla="99.9")),
        ("срочно, за неделю", U(deadline="lt1w")),
        ("Марина, 89161112233", U(name="Марина", phone="+79161112233")),
    ],
}
MODES = ["manual", "nlu"]


def run_script(product: str, channel: str, mode: str) -> Chat:
    chat = Chat(channel=channel, use_nlu=mode == "nlu")
    for text, u in SCRIPTS[product]:
        chat.send(text, u)
    return chat


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channel", ["telegram", "site", "avito"])
@pytest.mark.parametrize("product", list(SCRIPTS))
def test_scripted_dialog_reaches_three_packages(product: str, channel: str, mode: str) -> None:
    chat = run_script(product, channel, mode)
    first, last = chat.decisions[0], chat.decisions[-1]

    # greeting and the product question first
    assert "Здравствуйте" in all_text(first) or "актуально" in all_text(first)
    assert chat.asked[0] == "product"
    # then every brief question exactly once, in order, and the quote
    assert chat.asked == ["product", "industry", "users", "goals", "integrations", "hosting", "sla", "deadline",
                          "contacts"]
    assert last.quote is not None
    assert last.stage == "quoted"
    text = all_text(last)
    assert PRODUCT_NAMES[product][:-1] in text  # «ИИ-Юрист» / «ИИ-Юриста»
    for package, price in engine_prices(chat.brief).items():
        assert price in text, (package, price)
    for name in ("Старт", "Оптимум", "Enterprise"):
        assert name in text
    assert chat.brief["product"] == product
    assert chat.brief.get("phone") or chat.brief.get("email")
    assert_channel_form(chat)
    if channel == "avito":
        assert "КП" in text and "менеджер" in text  # next steps are spelled out
    else:
        assert {"doc:proposal", "book", "pay:optimum", "human"} <= callbacks(last)


@pytest.mark.parametrize("channel", ["telegram", "avito"])
def test_closed_questions_have_buttons_or_listed_options(channel: str) -> None:
    chat = Chat(channel=channel)
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_manager")
    chat.send("автосервис", U(industry="авто"))
    users_q = chat.decisions[-1]
    chat.send("25", U(users=25))
    chat.send("больше заявок", U(goals="больше заявок"))
    chat.send("3", U(integrations=3))
    hosting_q = chat.decisions[-1]
    assert chat.state.step == "hosting"
    if channel == "avito":
        assert "облак" in all_text(hosting_q) and "on-premise" in all_text(hosting_q)
        assert "до 10" in all_text(users_q)
        assert all_buttons(hosting_q) == []
    else:
        assert callbacks(hosting_q) == {"slot:hosting:cloud", "slot:hosting:hybrid", "slot:hosting:onprem"}
        assert "slot:users:10" in callbacks(users_q)


def test_user_range_buttons_map_to_band_upper_bounds() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_lawyer")
    chat.send("банк", U(industry="финансы"))
    chat.press("slot:users:50")
    assert chat.brief["users"] == 50
    assert "50 пользователей" in all_text(chat.decisions[-1])


# --- multi-slot message --------------------------------------------------------------------------------


def test_one_message_fills_several_slots_and_they_are_not_asked_again() -> None:
    chat = Chat()
    chat.send("Здравствуйте, актуально?", U("greeting"))
    d = chat.send("ИИ-юрист на 40 юристов, on-prem, нужно за неделю",
                  U("brief", "ai_lawyer", users=40, hosting="onprem", deadline="lt1w"))
    assert chat.brief == {"product": "ai_lawyer", "users": 40, "hosting": "onprem", "deadline": "lt1w"}
    assert d.brief_changed
    text = all_text(d)
    assert "ИИ-Юрист" in text and "40 пользователей" in text and "on-premise" in text
    chat.send("юридическая фирма", U(industry="юриспруденция"))
    chat.send("быстрее проверять договоры", U(goals="быстрее проверять договоры"))
    chat.press("slot:integrations:2")
    chat.press("slot:sla:standard")
    chat.send("Анна, anna@law.ru", U(name="Анна", email="anna@law.ru"))
    assert chat.asked == ["product", "industry", "goals", "integrations", "sla", "contacts"]
    assert chat.decisions[-1].quote is not None
    assert engine_prices(chat.brief)["enterprise"] in all_text(chat.decisions[-1])


def test_multi_slot_message_through_offline_nlu() -> None:
    chat = Chat(use_nlu=True)
    chat.send("Здравствуйте")
    chat.send("ИИ-юрист на 40 юристов, on-prem, нужно за неделю")
    assert chat.brief.get("product") == "ai_lawyer"
    assert chat.brief.get("users") == 40
    assert chat.brief.get("hosting") == "onprem"
    assert chat.brief.get("deadline") == "lt1w"
    assert chat.state.step not in ("product", "users", "hosting", "deadline")


def test_avito_listing_product_skips_product_question() -> None:
    chat = Chat(channel="avito", state=DialogState(product=Product.AI_ANALYST))
    d = chat.send("Здравствуйте, актуально?", U("greeting"))
    text = all_text(d)
    assert text.startswith("Да, актуально!")
    assert "ИИ-Аналитик" in text
    assert chat.state.step == "industry"
    assert chat.brief["product"] == "ai_analyst"
    assert d.replies[0].buttons == []


# --- price questions, recalculation -----------------------------------------------------------------------


def quoted_chat(channel: str = "telegram", max_recalc: int = 20) -> Chat:
    chat = Chat(channel=channel, max_recalc=max_recalc)
    chat.send("Здравствуйте", U("greeting"))
    chat.send("ИИ-юрист, 40 юристов, свои серверы, за неделю",
              U("brief", "ai_lawyer", users=40, hosting="onprem", deadline="lt1w"))
    chat.send("юрфирма", U(industry="юриспруденция"))
    chat.send("проверка договоров", U(goals="проверка договоров"))
    chat.press("slot:integrations:2")
    chat.press("slot:sla:standard")
    chat.send("Анна +79260000000", U(name="Анна", phone="+79260000000"))
    assert chat.decisions[-1].quote is not None
    return chat


def test_price_question_before_brief_gives_from_price_and_continues() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_lawyer")
    d = chat.send("а сколько стоит?", U("price"))
    text = all_text(d)
    start = calculate(validate_brief({"product": "ai_lawyer", "users": 1}), DEFAULT_RATES).package("start").price
    assert f"от {format_rub(start)}" in text
    assert "пользовател" in text and "интеграц" in text and "SLA" in text  # the parameters are named
    assert d.quote is None
    assert chat.state.step == "industry"  # the unanswered question is asked again
    assert "сфере" in text


def test_price_question_without_product_lists_all_products_from_prices() -> None:
    chat = Chat()
    d = chat.send("Сколько стоят ваши услуги?", U("price"))
    text = all_text(d)
    for product in ("ai_manager", "ai_lawyer", "ai_analyst"):
        start = calculate(validate_brief({"product": product, "users": 1}), DEFAULT_RATES).package("start").price
        assert format_rub(start) in text
    assert chat.state.step == "product"


def test_changed_answer_after_quote_recomputes_and_says_what_changed() -> None:
    chat = quoted_chat()
    before = engine_prices(chat.brief)
    d = chat.send("а если 80 человек?", U(users=80))
    assert d.quote is not None
    assert chat.brief["users"] == 80
    after = engine_prices(chat.brief)
    text = all_text(d)
    assert "80 пользователей вместо 40" in text
    assert after["optimum"] in text and before["optimum"] in text
    assert [a.data["recalculation"] for a in d.actions if a.kind == "quote"] == [True]

    d = chat.send("а в облаке сколько?", U("price", hosting="cloud"))
    assert d.quote is not None
    assert chat.brief["hosting"] == "cloud"
    assert engine_prices(chat.brief)["enterprise"] in all_text(d)


def test_product_switch_after_quote_recomputes() -> None:
    chat = quoted_chat()
    d = chat.send("а ИИ-Аналитик сколько будет?", U("price", "ai_analyst"))
    assert d.quote is not None and chat.brief["product"] == "ai_analyst"
    assert engine_prices(chat.brief)["start"] in all_text(d)


def test_recalculation_limit() -> None:
    chat = quoted_chat(max_recalc=1)
    assert chat.send("а 80 человек?", U(users=80)).quote is not None
    d = chat.send("а 100 человек?", U(users=100))
    assert d.quote is None
    assert chat.brief["users"] == 80  # the brief stays as last quoted
    assert "менеджер" in all_text(d)
    assert "human" in callbacks(d)
    assert not any(a.kind == "quote" for a in d.actions)


def test_same_price_question_after_quote_repeats_without_recomputing() -> None:
    chat = quoted_chat()
    d = chat.send("так сколько?", U("price"))
    assert d.quote is None
    assert engine_prices(chat.brief)["optimum"] in all_text(d)


# --- handoff ------------------------------------------------------------------------------------------


def test_handoff_when_client_asks_and_silence_after() -> None:
    chat = quoted_chat()
    d = chat.send("позовите живого человека", U("human"))
    assert d.handoff is not None and d.handoff["reason"] == "client_asked"
    assert "15 минут" in all_text(d)
    summary = d.handoff["summary"]
    assert "Telegram" in summary and "ИИ-Юрист" in summary and "+79260000000" in summary
    assert "40 пользователей" in summary and "позовите живого человека" in summary
    assert [a.kind for a in d.actions] == ["handoff"]
    assert chat.state.handoff is True

    after = chat.send("алло, вы тут?", U("other", confidence=0.1))
    assert after.replies == [] and after.actions == [] and after.handoff is None
    assert chat.press("doc:proposal").replies == []


@pytest.mark.parametrize("how", ["/manager", "button"])
def test_handoff_by_command_or_button(how: str) -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    d = chat.send("/manager", U("other", confidence=0.0)) if how == "/manager" else chat.press("human")
    assert d.handoff is not None and d.handoff["reason"] == "client_asked"


def test_handoff_after_two_negative_messages_in_a_row() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_manager")
    d = chat.send("дорого", U("objection", emotion="negative"))
    assert d.handoff is None
    chat.send("ладно, 10 человек", U(users=10))  # neutral: the streak restarts
    d = chat.send("всё равно дорого", U("objection", emotion="negative"))
    assert d.handoff is None
    d = chat.send("вы издеваетесь", U("other", emotion="negative", confidence=0.6))
    assert d.handoff is not None and d.handoff["reason"] == "negative_emotion"
    assert "менеджер" in all_text(d).lower()


def test_handoff_after_two_misunderstandings_in_a_row() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_manager")
    chat.send("стройка", U(industry="строительство"))
    d = chat.send("ъъъ", U("other", confidence=0.1))
    assert d.handoff is None
    assert "не совсем понял" in all_text(d)
    assert chat.state.step == "users"  # asks the same question again
    d = chat.send("ыыы", U("other", confidence=0.1))
    assert d.handoff is not None and d.handoff["reason"] == "not_understood"
    assert chat.send("привет", U("greeting")).replies == []


def test_misunderstanding_streak_resets_on_understood_message() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_manager")
    chat.send("стройка", U(industry="строительство"))
    chat.send("ъъъ", U("other", confidence=0.1))
    chat.send("20", U(users=20))
    d = chat.send("ыыы", U("other", confidence=0.1))
    assert d.handoff is None


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 11, 27, 20, 0, tzinfo=MSK), "в понедельник с 10:00"),  # Friday evening
    (datetime(2026, 11, 28, 12, 0, tzinfo=MSK), "в понедельник с 10:00"),  # Saturday
    (datetime(2026, 11, 24, 20, 0, tzinfo=MSK), "завтра с 10:00"),  # Tuesday evening
    (datetime(2026, 11, 29, 12, 0, tzinfo=MSK), "завтра с 10:00"),  # Sunday
    (datetime(2026, 11, 24, 5, 0, tzinfo=MSK), "сегодня с 10:00"),  # Tuesday early morning
    (datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("UTC")), "15 минут"),  # 12:00 in Moscow
])
def test_handoff_tells_when_a_manager_answers(now: datetime, expected: str) -> None:
    chat = Chat(now=now)
    d = chat.send("менеджера позовите", U("human"))
    assert expected in all_text(d)


# --- callbacks ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("callback", ["whatever", "product:ai_cook", "slot:users:abc", "slot:colour:red",
                                      "package:gold", "doc:poem", "pay:", "", "slot:hosting:moon"])
def test_unknown_or_malformed_callback_gets_a_polite_reply(callback: str) -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    d = chat.press(callback)
    assert d.replies and all_text(d).strip()
    assert d.handoff is None
    assert chat.state.step == "product"  # the conversation goes on


def test_every_offer_button_works() -> None:
    chat = quoted_chat()
    d = chat.press("doc:proposal")
    assert [a.data for a in d.actions if a.kind == "document"] == [{"kind": "proposal", "package": None}]
    d = chat.press("book")
    assert [a.kind for a in d.actions] == ["booking"]
    d = chat.press("pay:enterprise")
    assert [a.data for a in d.actions if a.kind == "payment"] == [{"package": "enterprise"}]
    assert engine_prices(chat.brief)["enterprise"] in all_text(d)
    d = chat.press("package:start")
    assert chat.state.package == "start"
    assert "pay:start" in callbacks(d)


def test_restart_keeps_contacts() -> None:
    chat = quoted_chat()
    d = chat.send("/cancel", U("other", confidence=0.0))
    assert chat.brief == {"name": "Анна", "phone": "+79260000000"}
    assert chat.state.step == "product"
    assert "product:ai_lawyer" in callbacks(d)
    chat.press("restart")
    assert chat.brief == {"name": "Анна", "phone": "+79260000000"}


# --- intents: documents, payment, booking -----------------------------------------------------------------


def test_document_before_quote_asks_brief_then_sends_proposal_with_the_quote() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.send("Нужен ИИ-менеджер, 5 человек", U("brief", "ai_manager", users=5))
    d = chat.send("пришлите КП", U("documents"))
    assert not any(a.kind == "document" for a in d.actions)
    assert chat.state.step == "integrations"  # industry/goals skipped: the client wants the document
    chat.press("slot:integrations:0")
    chat.press("slot:hosting:cloud")
    chat.press("slot:sla:standard")
    d = chat.press("slot:deadline:standard")
    assert d.quote is not None
    assert [a.data["kind"] for a in d.actions if a.kind == "document"] == ["proposal"]


def test_payment_asks_package_then_contact_then_pays() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.send("ИИ-аналитик, 3 человека, облако, стандарт, без спешки, без интеграций",
              U("brief", "ai_analyst", users=3, hosting="cloud", sla="standard", deadline="standard",
                integrations=0))
    d = chat.send("как оплатить?", U("payment"))
    assert d.quote is not None
    assert chat.state.step == "package"
    assert {"package:start", "package:optimum", "package:enterprise"} == callbacks(d)
    d = chat.press("package:optimum")
    assert not any(a.kind == "payment" for a in d.actions)
    assert chat.state.step == "phone"
    d = chat.send("pay@firm.ru", U(email="pay@firm.ru"))
    assert [a.data for a in d.actions if a.kind == "payment"] == [{"package": "optimum"}]
    assert engine_prices(chat.brief)["optimum"] in all_text(d)


def test_payment_by_text_on_avito_lists_packages_in_text() -> None:
    chat = quoted_chat(channel="avito")
    chat.send("хочу оплатить", U("payment"))
    assert chat.state.step == "package"
    d = chat.decisions[-1]
    assert "Старт" in all_text(d) and "Enterprise" in all_text(d) and all_buttons(d) == []
    d = chat.send("оптимум", U("other", confidence=0.2))
    assert [a.data for a in d.actions if a.kind == "payment"] == [{"package": "optimum"}]


def test_booking_needs_a_contact() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    d = chat.send("хочу консультацию", U("booking"))
    assert not any(a.kind == "booking" for a in d.actions)
    assert expecting_slot(chat.state) == "phone"
    d = chat.send("+79031234567", U(phone="+79031234567"))
    assert [a.kind for a in d.actions] == ["booking"]


def test_contract_needs_package_and_name() -> None:
    chat = quoted_chat()
    chat.press("doc:contract")
    assert chat.state.step == "package"
    d = chat.press("package:optimum")
    assert [a.data for a in d.actions if a.kind == "document"] == [{"kind": "contract", "package": "optimum"}]


# --- contacts ---------------------------------------------------------------------------------------------


def test_contacts_can_be_skipped_and_the_price_is_shown() -> None:
    chat = Chat(channel="avito")
    chat.send("Здравствуйте", U("greeting"))
    chat.send("юрист, 10 человек, облако, стандарт, обычные сроки, без интеграций",
              U("brief", "ai_lawyer", users=10, hosting="cloud", sla="standard", deadline="standard",
                integrations=0))
    chat.send("стройка", U(industry="строительство"))
    chat.send("договоры", U(goals="договоры"))
    assert chat.state.step == "contacts"
    d = chat.send("дальше", U("other", confidence=0.2, name="Дальше"))
    assert d.quote is not None
    assert "name" not in chat.brief
    assert d.stage == "quoted"


def test_qualified_stage_needs_product_and_contact() -> None:
    chat = Chat()
    d = chat.send("Здравствуйте, я Пётр, +79990001122", U("greeting", name="Пётр", phone="+79990001122"))
    assert d.stage is None
    d = chat.press("product:ai_manager")
    assert d.stage == "qualified"
    assert "Пётр" in chat.brief["name"]


def test_expecting_slot_follows_the_question() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    assert expecting_slot(chat.state) == "product"
    chat.press("product:ai_manager")
    assert expecting_slot(chat.state) == "industry"


def test_dont_know_takes_a_sensible_default() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.send("ИИ-менеджер на 5 человек, без интеграций", U("brief", "ai_manager", users=5, integrations=0))
    chat.send("стройка", U(industry="строительство"))
    chat.send("больше продаж", U(goals="больше продаж"))
    assert chat.state.step == "hosting"
    d = chat.send("не знаю", U("other", confidence=0.2))
    assert chat.brief["hosting"] == "cloud"
    assert "облако" in all_text(d)
    assert chat.state.step == "sla"


# --- knowledge answers ----------------------------------------------------------------------------------


def test_objection_answered_from_knowledge_without_markdown_or_prices() -> None:
    chunks = [Knowledge(title="Возражения", source="scripts/objections.md", doc_type="objection", text=(
        "## Дорого\n\n**Ответ:** Понимаю, бюджет важен. ИИ-ассистент берёт на себя типовые вопросы.\n"
        "- Пакет Старт стоит 90 000 ₽.\n- Можно начать с одного канала\n\n| a | b |\n|---|---|"))]
    chat = quoted_chat()
    d = chat.send("дорого", U("objection", emotion="negative"), knowledge=chunks)
    text = all_text(d)
    assert "Понимаю, бюджет важен." in text and "Можно начать с одного канала." in text
    assert "90 000" not in text and "##" not in text and "**" not in text and "|" not in text
    assert "doc:proposal" in callbacks(d)  # back to the funnel: the offer again


@pytest.mark.parametrize(("text", "marker"), [
    ("дорого", "Старт"), ("я подумаю", "КП"), ("не доверяю я этому ИИ", "последнее слово"),
    ("у нас уже есть CRM", "подключаемся"), ("а гарантии?", "договоре"),
])
def test_builtin_objection_answers_when_knowledge_is_empty(text: str, marker: str) -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_manager")
    d = chat.send(text, U("objection"))
    assert marker in all_text(d)
    assert "₽" not in all_text(d)
    assert chat.state.step == "industry"  # and the funnel goes on


def test_product_info_without_knowledge_uses_the_pitch() -> None:
    chat = Chat()
    d = chat.send("что умеет ваш юрист?", U("product_info", "ai_lawyer"))
    assert "ИИ-Юрист проверяет договоры" in all_text(d)
    assert chat.brief["product"] == "ai_lawyer"  # an unknown product becomes the one asked about


def test_greeting_only_on_first_message() -> None:
    chat = Chat()
    assert "Здравствуйте!" in all_text(chat.send("Добрый день", U("greeting")))
    assert "Я ИИ-ассистент" not in all_text(chat.send("юрист", U("brief", "ai_lawyer")))


def test_button_callback_must_fit_telegram() -> None:
    with pytest.raises(ValueError):
        Button("x", "a" * 65)
    with pytest.raises(ValueError):
        Button("x", "продукт")


# --- smaller behaviours -------------------------------------------------------------------------------


def test_second_price_question_is_short_and_skips_soft_questions() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_manager")
    chat.send("сколько стоит?", U("price"))
    d = chat.send("ну а сколько?", U("price"))
    assert "Осталось 5 вопросов" in all_text(d)
    assert chat.state.step == "users"  # industry/goals skipped for an impatient client
    chat.send("8", U(users=8))
    assert chat.state.step == "integrations"


def test_price_question_with_known_pricing_slots_shows_the_quote_at_once() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    d = chat.send("Сколько стоит ИИ-менеджер на 5 человек, облако, без интеграций, стандарт, не срочно?",
                  U("price", "ai_manager", users=5, hosting="cloud", integrations=0, sla="standard",
                    deadline="standard"))
    assert d.quote is not None
    assert engine_prices(chat.brief)["start"] in all_text(d)


def test_question_echoed_as_industry_by_the_nlu_is_not_stored() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_lawyer")
    chat.send("сколько?", U("price", industry="сколько"))
    assert "industry" not in chat.brief
    chat.send("хз", U("brief", goals="хз"))
    assert "goals" not in chat.brief and "industry" not in chat.brief


def test_out_of_turn_industry_is_acknowledged() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.press("product:ai_analyst")
    chat.send("не важно", U("other", confidence=0.2))  # industry skipped
    assert chat.state.step == "users"
    d = chat.send("розница, 5 магазинов", U(industry="розница"))
    assert "сфера — розница" in all_text(d)
    assert chat.state.step == "users"


def test_offer_is_shortened_after_the_first_time() -> None:
    chat = quoted_chat()
    first_offer = chat.decisions[-1].replies[-1].text
    assert "Что дальше?" in first_offer
    d = chat.send("ок", U("other", confidence=0.2))
    assert "Что дальше?" not in all_text(d)
    assert "doc:proposal" in callbacks(d)
    assert d.handoff is None and chat.state.miss_streak == 0


def test_product_question_about_another_product_does_not_switch() -> None:
    chat = quoted_chat()
    d = chat.send("а аналитик что умеет?", U("product_info", "ai_analyst"))
    assert chat.brief["product"] == "ai_lawyer"
    assert d.quote is None
    assert "ИИ-Аналитик" in all_text(d)


def test_numbered_product_choice_on_avito() -> None:
    chat = Chat(channel="avito")
    chat.send("Здравствуйте", U("greeting"))
    d = chat.send("3", U("other", confidence=0.2))
    assert chat.brief["product"] == "ai_analyst"
    assert "ИИ-Аналитик" in all_text(d)


def test_decide_does_not_mutate_its_input() -> None:
    state = DialogState()
    brief: dict[str, Any] = {}
    decision = decide(DialogInput(
        channel="telegram", text="юрист на 10 человек", callback=None,
        understanding=U("brief", "ai_lawyer", users=10), state=state, brief=brief, history=[], knowledge=[],
        rates=DEFAULT_RATES, quotes_done=0, max_quote_recalculations=20, now=WORK_TIME))
    assert state == DialogState() and brief == {}
    assert decision.brief == {"product": "ai_lawyer", "users": 10} and decision.brief_changed


def test_yes_after_the_recalculation_limit_hands_off_on_avito() -> None:
    chat = quoted_chat(channel="avito", max_recalc=0)
    d = chat.send("а 80 человек?", U(users=80))
    assert d.quote is None and "«да»" in all_text(d)
    d = chat.send("да", U("other", confidence=0.3))
    assert d.handoff is not None and d.handoff["reason"] == "client_asked"


def test_declining_the_contact_for_a_booking_drops_it_without_looping() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.send("хочу консультацию", U("booking"))
    assert chat.state.step == "phone"
    d = chat.send("не хочу", U("other", confidence=0.2))
    assert chat.state.pending is None
    assert not any(a.kind == "booking" for a in d.actions)
    assert chat.state.step == "product"  # back to the funnel


def test_a_bare_name_after_the_quote_is_taken_as_the_name() -> None:
    chat = Chat()
    chat.send("Здравствуйте", U("greeting"))
    chat.send("юрист, 10 человек, облако, стандарт, обычные сроки, без интеграций",
              U("brief", "ai_lawyer", users=10, hosting="cloud", sla="standard", deadline="standard",
                integrations=0))
    d = chat.send("сколько?", U("price"))
    assert d.quote is not None
    d = chat.send("Иван", U("other", confidence=0.3))
    assert chat.brief["name"] == "Иван" and "Спасибо, Иван!" in all_text(d)
