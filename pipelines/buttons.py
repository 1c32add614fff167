"""Button callback data: one aiogram ``CallbackData`` factory per kind of button, the same on every channel.

Telegram carries it as ``callback_data`` (ASCII, at most 64 bytes); the site widget posts it back as
``{"callback": ...}``; Avito has no buttons (``pipelines.integrate.callbacks.callback_for_text`` maps words to it).
``Factory(...).pack()`` writes it, ``parse_callback`` reads it — including every string an older release has already
sent to clients (a button in an old Telegram message must keep working): the formats below are exactly those strings,
and the one that used to carry ``:`` inside a value (``slot_pick:<ISO datetime>``) is still read.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeGuard

import pydantic
from aiogram.filters.callback_data import CallbackData
from pydantic import BeforeValidator

MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback_data; the site accepts the same


def _row_id(value: object) -> object:
    """Ids travel as ASCII digits (at most 11: ``'²'.isdigit()`` is true but not an id)."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) < 12):
        raise ValueError("not an id")
    return value


RowId = Annotated[int, BeforeValidator(_row_id)]


# --- the dialog's buttons ------------------------------------------------------------------------------------------
class Human(CallbackData, prefix="human"):
    """«Позвать менеджера»."""


class Restart(CallbackData, prefix="restart"):
    """«Начать заново»."""


class Book(CallbackData, prefix="book"):
    """«Записаться на консультацию»."""


class ProductChoice(CallbackData, prefix="product"):
    code: str


class SlotAnswer(CallbackData, prefix="slot"):
    """An answer to a brief question: ``slot:users:50``, ``slot:contacts:skip``."""

    name: str
    value: str


class PackageChoice(CallbackData, prefix="package"):
    code: str


class DocumentRequest(CallbackData, prefix="doc"):
    kind: str


class PayPackage(CallbackData, prefix="pay"):
    package: str


# --- the deals feature's buttons -----------------------------------------------------------------------------------
class SlotPick(CallbackData, prefix="slot_pick"):
    """A consultation slot: an ISO datetime without ``:`` (``20261203T100000+0300``) or the 1-based index of the
    offered slots. Older messages carry the extended ISO form (``2026-12-03T10:00:00+03:00``); ``parse_callback``
    still reads it."""

    at: str


class SlotOther(CallbackData, prefix="slot_other"):
    """«Другое время»."""


class BookingChange(CallbackData, prefix="booking"):
    action: Literal["cancel", "move"]
    booking_id: RowId


class PaymentRenew(CallbackData, prefix="pay_new"):
    payment_id: RowId


class NpsScore(CallbackData, prefix="nps"):
    score: RowId


# --- the managers' chat ---------------------------------------------------------------------------------------------
class ManagerAction(CallbackData, prefix="mgr"):
    """«Взять диалог» (``mgr:take:<lead_id>``) / «Вернуть боту» (``mgr:back:<lead_id>``)."""

    action: Literal["take", "back"]
    lead_id: RowId


FACTORIES: tuple[type[CallbackData], ...] = (
    Human, Restart, Book, ProductChoice, SlotAnswer, PackageChoice, DocumentRequest, PayPackage,
    SlotPick, SlotOther, BookingChange, PaymentRenew, NpsScore, ManagerAction,
)
_BY_PREFIX: dict[str, type[CallbackData]] = {f.__prefix__: f for f in FACTORIES}


def slot_pick_value(start_iso: str) -> str:
    """``2026-12-03T10:00:00+03:00`` → ``20261203T100000+0300`` (the same instant, ISO basic format, no ``:``)."""
    return start_iso.replace("-", "", 2).replace(":", "")


def parse_callback(data: str | None) -> CallbackData | None:
    """The button a callback string stands for, or None (not one of ours, or malformed)."""
    if not data:
        return None
    factory = _BY_PREFIX.get(data.split(":", 1)[0])
    if factory is None:
        return None
    try:
        return factory.unpack(data)
    except (TypeError, ValueError, pydantic.ValidationError):
        if factory is SlotPick:  # sent before SlotPick existed: the ISO datetime keeps its ':'
            return SlotPick(at=data.partition(":")[2])
        return None


def valid_callback_data(data: object) -> TypeGuard[str]:
    """What a channel may carry back as a button press: a non-empty ASCII string of at most 64 bytes."""
    return isinstance(data, str) and 0 < len(data) <= MAX_CALLBACK_BYTES and data.isascii()
