"""Understanding with an optional LLM pass on top of the offline rules.

``await understand(text, llm=router)`` runs the offline rules first, then asks the LLM (an object with
``async complete_json(system, user, *, timeout) -> dict``) for the same JSON shape and merges: valid enum values from
the LLM win, invalid ones are dropped, offline slots stay when the LLM omits them. On a timeout or any error the
offline result stands (logged at warning, without the message text).
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any, Protocol

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from loguru import logger

from integrations.llm.prompts import render_prompt
from pipelines.understand.offline import understand_offline
from pipelines.understand.types import Understanding
from voronka.vocabulary import (
    BAND_SLOTS,
    EMOTIONS,
    INTENTS,
    OPTION_KEYS,
    OPTION_SLOTS,
    OTHER_SLOTS,
    PRICING_SLOTS,
    PRODUCT_OR_NONE,
    Emotion,
    Intent,
)

_TEXT_SLOT_MAX = 200


class JsonLLM(Protocol):
    async def complete_json(self, system: str, user: str, *, timeout: float) -> dict[str, Any]: ...


def _int_slot(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 1_000_000 else None
    if isinstance(value, float) and value.is_integer():
        return _int_slot(int(value))
    if isinstance(value, str) and value.strip().isdigit():
        return _int_slot(int(value.strip()))
    return None


def _enum_slot(value: Any, allowed: tuple[str, ...]) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        v = value.strip().lower().rstrip("%")
        if v in allowed:
            return v
    return None


def _text_slot(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:_TEXT_SLOT_MAX]
    return None


def _phone_slot(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        num = phonenumbers.parse(value, "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return str(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))


def _email_slot(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(validate_email(value.strip(), check_deliverability=False).normalized).lower()
    except EmailNotValidError:
        return None


def validate_slot(name: str, value: Any) -> Any:
    """The slot value in our canonical form, or None when it is not valid for that slot."""
    if value is None:
        return None
    if name in BAND_SLOTS:
        return _int_slot(value)
    if name in OPTION_SLOTS:
        return _enum_slot(value, OPTION_KEYS[name])
    if name == "phone":
        return _phone_slot(value)
    if name == "email":
        return _email_slot(value)
    if name in ("industry", "goals", "security", "name"):
        return _text_slot(value)
    return None


def merge(base: Understanding, data: Any) -> Understanding:
    """Offline result updated with the valid parts of an LLM answer (anything invalid is ignored)."""
    if not isinstance(data, dict):
        logger.warning("understand: LLM answer is not a JSON object, offline result kept")
        return base
    used = False
    intent, product, emotion = base.intent, base.product, base.emotion
    if data.get("intent") in INTENTS:
        intent, used = Intent(data["intent"]), True
    if data.get("product") in PRODUCT_OR_NONE:
        product, used = str(data["product"]), True
    if data.get("emotion") in EMOTIONS:
        emotion, used = Emotion(data["emotion"]), True
    slots = dict(base.slots)
    raw_slots = data.get("slots")
    if isinstance(raw_slots, dict):
        for name in (*PRICING_SLOTS, *OTHER_SLOTS):
            value = validate_slot(name, raw_slots.get(name))
            if value is not None:
                slots[name] = value
                used = True
    if not used:
        logger.warning("understand: LLM answer had no valid field, offline result kept")
        return base
    confidence = data.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        confidence = max(base.confidence, 0.8)
    return Understanding(intent=intent, product=product, emotion=emotion, slots=slots,
                         confidence=float(confidence), source="llm")


def _system_prompt(today: date) -> str:
    return render_prompt("understand", intents=list(INTENTS), products=list(PRODUCT_OR_NONE), emotions=list(EMOTIONS),
                         today=today.isoformat())


async def understand(
    text: str,
    *,
    llm: JsonLLM | None = None,
    current_product: str | None = None,
    expecting: str | None = None,
    timeout: float = 5.0,
    today: date | None = None,
) -> Understanding:
    """Offline understanding, refined by ``llm`` when one is given (see the module docstring)."""
    today = today or date.today()
    base = understand_offline(text, current_product=current_product, expecting=expecting, today=today)
    if llm is None or not (text or "").strip():
        return base
    user = json.dumps(
        {"message": text, "current_product": current_product, "expecting": expecting, "offline": base.as_dict()},
        ensure_ascii=False,
    )
    try:
        system = _system_prompt(today)
        async with asyncio.timeout(timeout):
            data = await llm.complete_json(system, user, timeout=timeout)
    except TimeoutError:
        logger.warning("understand: LLM timed out after {}s, offline result kept", timeout)
        return base
    except Exception as exc:  # any provider/parse failure: the offline result is a complete answer
        logger.warning("understand: LLM failed ({}), offline result kept", type(exc).__name__)
        return base
    return merge(base, data)
