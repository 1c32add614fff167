"""Button callback data: one ``ButtonData`` factory per kind of button, the same on every channel.

Telegram carries it as ``callback_data`` (ASCII, at most 64 bytes); the site widget posts it back as
``{"callback": ...}``; Avito has no buttons (``pipelines.integrate.callbacks.callback_for_text`` maps words to it).
``Factory(...).pack()`` writes it, ``parse_callback`` reads it — including every string an older release has already
sent to clients (a button in an old Telegram message must keep working): the formats below are exactly those strings,
and the one that used to carry ``:`` inside a value (``slot_pick:<ISO datetime>``) is still read.

``ButtonData`` packs exactly as aiogram's ``CallbackData`` does (``prefix:value:value``, None as "", bools as 0/1),
without importing aiogram: aiogram's types cost seconds of CPU and ~130 MB at import, and the web receiver and the
workers read buttons without ever talking to Telegram. The bot's ``Buttons`` filter routes updates by these classes.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Self, TypeGuard

import pydantic
from pydantic import BaseModel, BeforeValidator

MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback_data; the site accepts the same
SEPARATOR = ":"


class ButtonData(BaseModel):
    """A kind of button: ``class Book(ButtonData, prefix="book")``; ``pack()`` writes it, ``unpack()`` reads it."""

    __prefix__: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        prefix = kwargs.pop("prefix", None)
        if not prefix or SEPARATOR in prefix:
            raise ValueError(f"{cls.__name__}: a prefix without {SEPARATOR!r} is required")
        cls.__prefix__ = prefix
        super().__init_subclass__(**kwargs)

    @staticmethod
    def _encode(key: str, value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, Enum):
            value = value.value
        if isinstance(value, bool):
            return str(int(value))
        if isinstance(value, (int, str, float)):
            text = str(value)
            if SEPARATOR in text:
                raise ValueError(f"{SEPARATOR!r} cannot be used in value {key}={text!r}")
            return text
        raise ValueError(f"{key}={value!r} cannot be packed into callback data")

    def pack(self) -> str:
        data = SEPARATOR.join([self.__prefix__, *(self._encode(k, v) for k, v in self.model_dump().items())])
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data longer than {MAX_CALLBACK_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def unpack(cls, value: str) -> Self:
        prefix, *parts = value.split(SEPARATOR)
        names = list(cls.model_fields)
        if len(parts) != len(names):
            raise TypeError(f"{cls.__name__} takes {len(names)} values, {len(parts)} given")
        if prefix != cls.__prefix__:
            raise ValueError(f"bad prefix {prefix!r} (expected {cls.__prefix__!r})")
        return cls(**dict(zip(names, parts, strict=True)))


def _row_id(value: object) -> object:
    """Ids travel as ASCII digits (at most 11: ``'²'.isdigit()`` is true but not an id)."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) < 12):
        raise ValueError("not an id")
    return value


RowId = Annotated[int, BeforeValidator(_row_id)]


# --- the dialog's buttons ------------------------------------------------------------------------------------------
class Human(ButtonData, prefix="human"):
    """«Позвать менеджера»."""


class Restart(ButtonData, prefix="restart"):
    """«Начать заново»."""


class Book(ButtonData, prefix="book"):
    """«Записаться на консультацию»."""


class ProductChoice(ButtonData, prefix="product"):
    code: str


class SlotAnswer(ButtonData, prefix="slot"):
    """An answer to a brief question: ``slot:users:50``, ``slot:contacts:skip``."""

    name: str
    value: str


class PackageChoice(ButtonData, prefix="package"):
    code: str


class DocumentRequest(ButtonData, prefix="doc"):
    kind: str


class PayPackage(ButtonData, prefix="pay"):
    package: str


# --- the deals feature's buttons -----------------------------------------------------------------------------------
class SlotPick(ButtonData, prefix="slot_pick"):
    """A consultation slot: an ISO datetime without ``:`` (``20261203T100000+0300``) or the 1-based index of the
    offered slots. Older messages carry the extended ISO form (``2026-12-03T10:00:00+03:00``); ``parse_callback``
    still reads it."""

    at: str


class SlotOther(ButtonData, prefix="slot_other"):
    """«Другое время»."""


class BookingChange(ButtonData, prefix="booking"):
    action: Literal["cancel", "move"]
    booking_id: RowId


class PaymentRenew(ButtonData, prefix="pay_new"):
    payment_id: RowId


class NpsScore(ButtonData, prefix="nps"):
    score: RowId


# --- the managers' chat ---------------------------------------------------------------------------------------------
class ManagerAction(ButtonData, prefix="mgr"):
    """«Взять диалог» (``mgr:take:<lead_id>``) / «Вернуть боту» (``mgr:back:<lead_id>``)."""

    action: Literal["take", "back"]
    lead_id: RowId


FACTORIES: tuple[type[ButtonData], ...] = (
    Human, Restart, Book, ProductChoice, SlotAnswer, PackageChoice, DocumentRequest, PayPackage,
    SlotPick, SlotOther, BookingChange, PaymentRenew, NpsScore, ManagerAction,
)
_BY_PREFIX: dict[str, type[ButtonData]] = {f.__prefix__: f for f in FACTORIES}


def slot_pick_value(start_iso: str) -> str:
    """``2026-12-03T10:00:00+03:00`` → ``20261203T100000+0300`` (the same instant, ISO basic format, no ``:``)."""
    return start_iso.replace("-", "", 2).replace(":", "")


def parse_callback(data: str | None) -> ButtonData | None:
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
