"""The online reply stage: with an LLM configured, the answer to a question about services, the agency or an objection
is written by the LLM from the retrieved knowledge-base chunks — grounded, short, plain — instead of the offline
sentence picker.

Only the answer part changes. ``pipelines.dialog.decide`` has already produced the full turn (greeting or echo before
the answer, the next brief question or the offer after it, buttons, state); we find the offline answer
(``compose_answer`` of the same chunks) inside its reply, ask the LLM for a replacement, vet it and splice it in.
Brief questions, quotes, documents, bookings, payments and handoffs stay deterministic.

An answer is rejected — and the offline text kept, with a log line saying why — when the LLM fails or overruns
``LLM_TIMEOUT_SECONDS``, when it is empty or longer than ``MAX_ANSWER_CHARS``, when it names a money amount the
pricing engine did not give (``integrations.llm.grounding.check_grounded`` against the current quote's package
prices and the engine's «от» prices), or when it states a number found nowhere in the knowledge chunks, the brief,
the prices or the conversation (an invented term, percentage or guarantee).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlmodel import Session

from integrations.llm.errors import LLMError
from integrations.llm.grounding import ungrounded_amounts
from integrations.llm.prompts import format_rub, render_prompt
from pipelines.dialog import texts
from pipelines.dialog.knowledge import clean_markdown, compose_answer
from pipelines.dialog.pricing import start_price
from pipelines.dialog.state import DialogState
from pipelines.dialog.types import Decision, Knowledge, Reply
from pipelines.llm_usage import UsageTag, write_buffered
from pipelines.runtime import Runtime
from pipelines.understand.types import Understanding
from voronka.vocabulary import KNOWLEDGE_INTENTS, PACKAGE_TITLES, PACKAGES, PRODUCT_INFO, PRODUCTS, product_title

if TYPE_CHECKING:
    from db.rate_table import RateTable
    from integrations.llm.router import LLMResult

MAX_ANSWER_CHARS = 700
MAX_TOKENS = 400
HISTORY_MESSAGES = 8
_MIN_ATTEMPT_SECONDS = 1.0

_BRIEF_LABELS: dict[str, str] = {
    "product": "Услуга", "industry": "Сфера", "users": "Пользователей", "goals": "Задача",
    "integrations": "Интеграций", "hosting": "Размещение", "sla": "Поддержка", "deadline": "Срок запуска",
    "security": "Требования к безопасности",
}
_EMOTIONS = {"negative": "раздражение или сомнение"}

_AVITO_MARKUP = re.compile(r"[*_#`]")
_CODE_FENCE = re.compile(r"```[a-z]*\n?|```", re.IGNORECASE)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*[-*+•][ \t]+", re.MULTILINE)
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)")
_STRONG = re.compile(r"(\*\*|__)(.+?)\1", re.DOTALL)
_EM = re.compile(r"(?<![\w*])[*_](\S(?:.*?\S)?)[*_](?![\w*])")
_STRAY = re.compile(r"[*`]|(?<!\w)#(?!\d)")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass
class ReplyInput:
    """What the reply stage needs besides the dialog's decision."""

    channel: str
    text: str  # the client's message
    understanding: Understanding
    knowledge: list[Knowledge]
    history: list[dict[str, Any]]  # earlier messages [{"role": "client|assistant|manager", "text"}]
    rates: RateTable
    lead_id: int | None = None


@dataclass(frozen=True)
class ReplyOutcome:
    """What happened to the answer: ``used`` with the provider, or why the offline text stayed."""

    used: bool
    reason: str  # "llm" | "not_applicable" | "no_offline_answer" | "failed" | "timeout" | "empty" | "too_long"
    #              | "ungrounded_price" | "unknown_number"
    provider: str | None = None
    details: list[str] = field(default_factory=list)


# --- pieces -------------------------------------------------------------------------------------------------


def allowed_prices(state: DialogState, rates: RateTable) -> dict[str, int]:
    """Label → amount of every price the pricing engine gave: the «от» price of each product and the current
    quote's packages (``state.quoted_prices``)."""
    prices: dict[str, int] = {}
    for code in PRODUCTS:
        try:
            prices[f"{PRODUCT_INFO[code].title} — от"] = start_price(code, rates)
        except Exception:  # a product without rates cannot be priced: it is simply not offered
            logger.exception("no «от» price for {}", code)
    quoted = state.quoted_prices
    if quoted:
        for package in PACKAGES:
            if package in quoted:
                prices[f"Пакет «{PACKAGE_TITLES[package]}» по брифу клиента"] = int(quoted[package])
    return prices


def plain_answer(text: str, channel: str) -> str:
    """The answer without Markdown: on Avito plain prose; elsewhere line breaks and «—» lists are kept."""
    if channel == "avito":
        return _AVITO_MARKUP.sub("", clean_markdown(text)).strip()
    out = _CODE_FENCE.sub("", text)
    out = _HEADING.sub("", out)
    out = _LINK.sub(r"\1", out)
    out = _BULLET.sub("— ", out)
    out = _STRONG.sub(r"\2", out)
    out = _EM.sub(r"\1", out)
    out = _STRAY.sub("", out)
    lines = [_SPACES.sub(" ", line).strip() for line in out.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


def unknown_numbers(answer: str, sources: Iterable[str]) -> list[str]:
    """Numbers in ``answer`` that appear in none of ``sources`` (after normalising the decimal comma)."""
    known: set[str] = set()
    for source in sources:
        known |= _numbers(source)
    return sorted(n for n in _numbers(answer) if n not in known)


def vet_answer(answer: str, *, allowed: set[int], sources: Iterable[str]) -> tuple[str, list[str]] | None:
    """Why ``answer`` cannot be sent — (reason, details) — or None when it can."""
    if not answer.strip():
        return "empty", []
    if len(answer) > MAX_ANSWER_CHARS:
        return "too_long", [str(len(answer))]
    invented = ungrounded_amounts(answer, allowed)
    if invented:
        return "ungrounded_price", [m.text for m in invented]
    numbers = unknown_numbers(answer, sources)
    if numbers:
        return "unknown_number", numbers
    return None


def locate_answer(replies: list[Reply], offline: str) -> tuple[int, int] | None:
    """(reply index, offset) of the offline answer inside the replies, or None."""
    if not offline:
        return None
    for index, reply in enumerate(replies):
        offset = reply.text.find(offline)
        if offset >= 0:
            return index, offset
    return None


def _brief_for_prompt(brief: dict[str, Any]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for key, label in _BRIEF_LABELS.items():
        value = brief.get(key)
        if value is None or value == "":
            continue
        if key == "product":
            value = product_title(value, str(value))
        elif key == "hosting":
            value = texts.HOSTING_ECHO.get(str(value), value)
        elif key == "sla":
            value = texts.SLA_ECHO.get(str(value), value)
        elif key == "deadline":
            value = texts.DEADLINE_ECHO.get(str(value), value)
        shown[label] = str(value)
    return shown


def _messages(history: list[dict[str, Any]], text: str) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for item in history[-HISTORY_MESSAGES:]:
        content = str(item.get("text") or "").strip()
        if content:
            messages.append({"role": "user" if item.get("role") == "client" else "assistant", "content": content})
    messages.append({"role": "user", "content": text.strip()})
    return messages


def build_prompt(inp: ReplyInput, decision: Decision, *, said_before: str, next_question: str,
                 prices: dict[str, int]) -> tuple[str, list[dict[str, str]]]:
    """The system prompt (``templates/prompts/reply.j2``) and the conversation messages for the LLM."""
    product = decision.brief.get("product")
    emotion = _EMOTIONS.get(inp.understanding.emotion, "")
    system = render_prompt(
        "reply",
        channel=inp.channel,
        chunks=[{"title": k.title, "text": k.text} for k in inp.knowledge],
        brief=_brief_for_prompt(decision.brief),
        prices=[{"label": label, "amount": amount} for label, amount in prices.items()],
        next_question=next_question,
        question_follows=bool(next_question),
        said_before=said_before,
        product=product_title(product),
        client_name=str(decision.brief.get("name") or ""),
        emotion=emotion,
    )
    return system, _messages(inp.history, inp.text)


def _timeouts(deps: Runtime) -> tuple[float, float]:
    """(whole call, one provider attempt): the call never exceeds ``LLM_TIMEOUT_SECONDS``; each configured
    provider gets its share so a hanging first one leaves time for the next."""
    total = float(deps.settings.LLM_TIMEOUT_SECONDS)
    providers = max(1, len(deps.llm.providers) if deps.llm is not None else 1)
    return total, max(_MIN_ATTEMPT_SECONDS, total / providers)


# --- the stage -------------------------------------------------------------------------------------------------


def llm_answer(deps: Runtime, decision: Decision, inp: ReplyInput,
               usage: UsageTag | None = None) -> tuple[Decision, ReplyOutcome]:
    """The decision with its knowledge answer written by the LLM, or unchanged (see the module docstring)."""
    if (deps.llm is None or inp.understanding.intent not in KNOWLEDGE_INTENTS or not inp.knowledge
            or not inp.text.strip() or decision.handoff is not None):
        return decision, ReplyOutcome(False, "not_applicable")
    offline = compose_answer(inp.knowledge)
    if inp.channel == "avito":
        offline = _AVITO_MARKUP.sub("", offline)
    found = locate_answer(decision.replies, offline)
    if found is None:  # the dialog answered otherwise (a recalculation, a limit, a built-in text): keep it
        return decision, ReplyOutcome(False, "no_offline_answer")
    index, offset = found
    reply = decision.replies[index]
    before, after = reply.text[:offset], reply.text[offset + len(offline):]
    later = " ".join(r.text for r in decision.replies[index + 1:])
    next_question = (after.strip() + (" " + later if later else "")).strip()
    prices = allowed_prices(decision.state, inp.rates)
    system, messages = build_prompt(inp, decision, said_before=before.strip(), next_question=next_question,
                                    prices=prices)
    log = logger.bind(lead_id=inp.lead_id, channel=inp.channel)

    total, attempt = _timeouts(deps)
    tag = usage.for_purpose("reply") if usage is not None else None
    llm = deps.llm

    async def call() -> LLMResult:
        async with asyncio.timeout(total):
            return await llm.complete(system, messages, max_tokens=MAX_TOKENS, lead_id=tag, timeout=attempt)

    try:
        result = deps.bridge.run(call(), timeout=total + 1.0)
    except TimeoutError:
        log.warning("LLM reply timed out after {}s: offline answer kept", total)
        return decision, ReplyOutcome(False, "timeout")
    except LLMError as exc:
        log.warning("LLM reply failed ({}: {}): offline answer kept", type(exc).__name__,
                    getattr(exc, "failures", None) or exc.message)
        return decision, ReplyOutcome(False, "failed")

    answer = plain_answer(str(result.text), inp.channel)
    sources = [k.text for k in inp.knowledge] + [k.title for k in inp.knowledge]
    sources += [r.text for r in decision.replies] + [str(item.get("text") or "") for item in inp.history]
    sources += [inp.text, *map(str, decision.brief.values())]
    sources += [f"{amount} {format_rub(amount)}" for amount in prices.values()]
    verdict = vet_answer(answer, allowed=set(prices.values()), sources=sources)
    if verdict is not None:
        reason, details = verdict
        log.warning("LLM reply from {} rejected ({}: {}): offline answer kept", result.provider, reason,
                    ", ".join(details))
        return decision, ReplyOutcome(False, reason, provider=result.provider, details=details)

    text = before + answer + after
    replies = list(decision.replies)
    replies[index] = dataclasses.replace(reply, text=text)
    log.info("LLM reply by {} used ({} chars)", result.provider, len(answer))
    return dataclasses.replace(decision, replies=replies), ReplyOutcome(True, "llm", provider=result.provider)


def refine_decision(deps: Runtime, session: Session, decision: Decision, inp: ReplyInput,
                    usage: UsageTag | None = None) -> Decision:
    """``llm_answer`` inside a turn, then the turn's buffered LLM usage written as events in ``session``."""
    try:
        decision, _ = llm_answer(deps, decision, inp, usage)
    finally:
        write_buffered(session, usage)
    return decision
