"""Button callbacks: one schema (``pipelines.buttons``) read the same by the bot's routers, the deals' callbacks and
the site; every string an older release already sent still parses and reaches the same place."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.filters.callback_data import CallbackData
from aiogram.types import Update

from bot.dispatcher import build_dispatcher
from pipelines.buttons import (
    FACTORIES,
    Book,
    BookingChange,
    ButtonData,
    DocumentRequest,
    Human,
    ManagerAction,
    NpsScore,
    PackageChoice,
    PaymentRenew,
    PayPackage,
    ProductChoice,
    Restart,
    SlotAnswer,
    SlotOther,
    SlotPick,
    parse_callback,
    slot_pick_value,
    valid_callback_data,
)
from pipelines.integrate.booking import parse_slot
from tests.support.channels import tg_callback
from voronka.settings import Settings

# Strings in messages already sent to clients (Telegram keeps them in old messages' keyboards).
SENT_BEFORE: list[tuple[str, ButtonData]] = [
    ("human", Human()),
    ("restart", Restart()),
    ("book", Book()),
    ("product:ai_lawyer", ProductChoice(code="ai_lawyer")),
    ("slot:users:50", SlotAnswer(name="users", value="50")),
    ("slot:sla:99.5", SlotAnswer(name="sla", value="99.5")),
    ("slot:contacts:skip", SlotAnswer(name="contacts", value="skip")),
    ("package:optimum", PackageChoice(code="optimum")),
    ("doc:proposal", DocumentRequest(kind="proposal")),
    ("pay:enterprise", PayPackage(package="enterprise")),
    ("slot_pick:3", SlotPick(at="3")),
    ("slot_other", SlotOther()),
    ("booking:cancel:17", BookingChange(action="cancel", booking_id=17)),
    ("booking:move:17", BookingChange(action="move", booking_id=17)),
    ("pay_new:42", PaymentRenew(payment_id=42)),
    ("nps:10", NpsScore(score=10)),
    ("mgr:take:5", ManagerAction(action="take", lead_id=5)),
    ("mgr:back:5", ManagerAction(action="back", lead_id=5)),
]
OLD_SLOT_PICK = "slot_pick:2026-12-03T10:00:00+03:00"  # the extended ISO form, ':' inside the value


@pytest.mark.parametrize(("data", "expected"), SENT_BEFORE, ids=[d for d, _ in SENT_BEFORE])
def test_every_format_already_sent_parses_and_packs_back_the_same(data: str, expected: ButtonData) -> None:
    assert parse_callback(data) == expected
    assert expected.pack() == data


def test_an_old_slot_pick_with_an_extended_iso_datetime_still_parses_to_the_same_instant() -> None:
    old = parse_callback(OLD_SLOT_PICK)
    assert isinstance(old, SlotPick)
    new = SlotPick(at=slot_pick_value("2026-12-03T10:00:00+03:00"))
    assert ":" not in new.at and len(new.pack().encode()) <= 64
    assert parse_callback(new.pack()) == new
    assert parse_slot(old.at) == parse_slot(new.at) is not None


@pytest.mark.parametrize("data", ["", "unknown", "product", "human:x", "booking:drop:1", "booking:cancel:x",
                                  "booking:cancel:1:2", "nps:²", "nps:123456789012", "mgr:take:", "mgr:eat:1"])
def test_what_is_not_one_of_our_buttons_is_none(data: str) -> None:
    assert parse_callback(data) is None


def test_the_site_accepts_what_telegram_would_carry() -> None:
    assert valid_callback_data("product:ai_lawyer") and valid_callback_data("x" * 64)
    assert not valid_callback_data("x" * 65) and not valid_callback_data("") and not valid_callback_data("кнопка")
    assert not valid_callback_data(None) and not valid_callback_data(5)


class RecordingInbox:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def client_callback(self, update: Update, query: Any) -> None:
        self.calls.append(("client", query.data))

    async def client_message(self, update: Update, message: Any, kind: str) -> None:
        self.calls.append(("message", kind))

    async def manager_update(self, update: Update) -> None:
        data = update.callback_query.data if update.callback_query else None
        self.calls.append(("manager", str(data)))


@pytest.mark.parametrize("data", [d for d, _ in SENT_BEFORE if not d.startswith("mgr:")] + [OLD_SLOT_PICK,
                                                                                            "a-button-we-never-had"])
async def test_an_old_button_in_a_private_chat_still_reaches_the_dialog(data: str) -> None:
    inbox = RecordingInbox()
    settings = Settings(_env_file=None, ENVIRONMENT="test", MANAGER_TELEGRAM_CHAT_ID="-1001")  # type: ignore[call-arg]
    dp = build_dispatcher(settings, inbox)  # type: ignore[arg-type]
    bot = Bot("123456789:TEST-token-for-routing-only")
    try:
        await dp.feed_update(bot, Update.model_validate(tg_callback(777, data), context={"bot": bot}))
    finally:
        await bot.session.close()
    assert inbox.calls == [("client", data)]


@pytest.mark.parametrize("data", ["mgr:take:5", "mgr:back:5"])
async def test_an_old_button_in_the_managers_chat_still_reaches_the_managers_actor(data: str) -> None:
    inbox = RecordingInbox()
    settings = Settings(_env_file=None, ENVIRONMENT="test", MANAGER_TELEGRAM_CHAT_ID="-1001")  # type: ignore[call-arg]
    dp = build_dispatcher(settings, inbox)  # type: ignore[arg-type]
    bot = Bot("123456789:TEST-token-for-routing-only")
    try:
        await dp.feed_update(bot, Update.model_validate(tg_callback(-1001, data), context={"bot": bot}))
    finally:
        await bot.session.close()
    assert inbox.calls == [("manager", data)]


@pytest.mark.parametrize(("data", "button"), SENT_BEFORE)
def test_buttons_pack_exactly_as_aiogram_callback_data_would(data: str, button: ButtonData) -> None:
    """The same fields in an aiogram ``CallbackData`` of the same prefix give the same string, both ways."""
    twin = cast(Any, type(f"Aiogram{type(button).__name__}", (CallbackData,), {
        "__annotations__": {name: field.annotation for name, field in type(button).model_fields.items()},
    }, prefix=type(button).__prefix__))
    packed = button.pack()
    assert twin(**button.model_dump()).pack() == packed
    assert twin.unpack(packed).model_dump() == type(button).unpack(packed).model_dump()


def test_every_factory_has_its_own_prefix() -> None:
    prefixes = [factory.__prefix__ for factory in FACTORIES]
    assert len(prefixes) == len(set(prefixes))


def test_a_value_with_the_separator_or_too_long_is_refused() -> None:
    with pytest.raises(ValueError):
        SlotAnswer(name="goals", value="a:b").pack()
    with pytest.raises(ValueError):
        SlotAnswer(name="goals", value="x" * 80).pack()


def test_reading_buttons_does_not_load_aiogram() -> None:
    """The web receiver and the workers read buttons; aiogram costs seconds and ~130 MB to import."""
    code = "import sys, pipelines.buttons, pipelines.integrate.callbacks; print('aiogram' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
