"""Issue 18: an unsure intent makes the dialog ask instead of guess; an English-only client gets one English line."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from db.rate_table import DEFAULT_RATES
from pipelines.dialog import texts
from pipelines.dialog.engine import decide
from pipelines.dialog.state import DialogState
from pipelines.dialog.types import Decision, DialogInput
from pipelines.understand.types import Understanding
from voronka.vocabulary import Intent

NOON = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def _turn(text: str, u: Understanding, clarify_below: float) -> Decision:
    state = DialogState()
    state.greeted = True  # not the first message
    return decide(DialogInput(channel="telegram", text=text, callback=None, understanding=u, state=state, brief={},
                              history=[], knowledge=[], rates=DEFAULT_RATES, quotes_done=0,
                              max_quote_recalculations=20, now=NOON, clarify_below=clarify_below))


def _unsure_price() -> Understanding:
    return Understanding(intent=Intent.PRICE, confidence=0.3,
                         field_confidence={"intent": 0.3, "product": 0.9, "emotion": 0.9})


def test_an_unsure_intent_is_asked_about_not_guessed() -> None:
    d = _turn("а вот это сколько по деньгам примерно выходит", _unsure_price(), clarify_below=0.45)
    assert d.clarified
    assert texts.CLARIFY in "\n".join(r.text for r in d.replies)
    assert d.quote is None and not d.actions


def test_a_sure_intent_or_no_threshold_goes_on_as_before() -> None:
    assert not _turn("сколько стоит?", _unsure_price(), clarify_below=0.0).clarified
    sure = Understanding(intent=Intent.PRICE, confidence=0.9,
                         field_confidence={"intent": 0.9, "product": 0.9, "emotion": 0.9})
    assert not _turn("сколько стоит?", sure, clarify_below=0.45).clarified


def test_an_english_only_client_is_told_in_english_that_the_managers_speak_russian() -> None:
    u = Understanding(intent=Intent.PRODUCT_INFO, product="ai_lawyer", confidence=0.9, language="en")
    text = "\n".join(r.text for r in _turn("Need an AI lawyer for our firm", u, 0.0).replies)
    assert texts.ENGLISH_ONLY in text
    ru = Understanding(intent=Intent.PRODUCT_INFO, product="ai_lawyer", confidence=0.9)
    assert texts.ENGLISH_ONLY not in "\n".join(r.text for r in _turn("нужен ИИ-юрист", ru, 0.0).replies)
