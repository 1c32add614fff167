"""The dialog brain: one client message (or button press) in, the next step of the sales conversation out.

Pure logic: no database, no broker, no network. The caller loads the conversation state, the lead's brief, the
last messages and the knowledge chunks, runs ``understand`` with ``expecting=expecting_slot(state)``, calls
``decide`` and persists what comes back (state, brief, quote, stage), sends the replies and performs the actions.

Flow (see ``pipelines/dialog/README.md`` for the reasoning):

    greeting → product → industry → users → goals → integrations → hosting (covers security) → SLA → deadline
    → contacts (asked once, skippable) → quote (three packages) → offer: КП / consultation / payment / manager

* A question is never asked for a slot the client already gave; one message may fill several slots.
* Soft questions (industry, goals, contacts) are asked once; pricing questions until answered. A client who asks
  for the price twice, or wants a document or to pay, skips the soft questions.
* Contacts are asked just before the prices, once, with «Пропустить»: the price is never held hostage. Booking,
  contract/invoice and payment need a phone or email and ask for it then (the pending action fires once given).
* After the quote any change of product or pricing slot recomputes it and says what changed, up to the
  per-lead limit; beyond it the bot offers a manager and keeps the brief as quoted.
* Handoff: the client asks for a person, two negative messages in a row, or two misunderstood messages in a
  row. After it the bot is silent until the caller clears ``state.handoff``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger

from voronka.vocabulary import (
    CHANNELS,
    KNOWLEDGE_INTENTS,
    NO_PRODUCT,
    PACKAGE_TITLES,
    PACKAGES,
    PRODUCT_INFO,
    PRODUCTS,
    RECOMMENDED_PACKAGE,
    Package,
    Stage,
    package_title,
    stage_rank,
)

from . import texts
from .handoff import build_summary
from .hours import manager_eta
from .knowledge import compose_answer
from .pricing import compute_quote, package_prices, quote_text, rub, start_price
from .slots import (
    CONTACT_SLOTS,
    DONT_KNOW_DEFAULTS,
    PRICING_SLOTS,
    SOFT_STEPS,
    bare_int,
    brief_complete,
    document_kind,
    dont_know,
    echo,
    has_contact,
    is_ack,
    is_free_text_answer,
    is_skip,
    is_yes,
    name_like,
    normalize_slot,
    option_from_text,
    package_from_text,
    plural,
    pricing_snapshot,
    product_from_choice,
)
from .state import DialogState, DocKind, Expecting, Pending, Step
from .types import Action, Button, Decision, DialogInput, Reply

if TYPE_CHECKING:
    from pipelines.price.engine import QuoteResult

LOW_CONFIDENCE = 0.5
STREAK_FOR_HANDOFF = 2
DOC_KINDS: dict[str, DocKind] = {"proposal": "proposal", "contract": "contract", "invoice": "invoice"}
# The order the brief questions are asked in (``contacts`` is the last, just before the quote).
BRIEF_STEPS: tuple[Step, ...] = ("industry", "users", "goals", "integrations", "hosting", "sla", "deadline",
                                "contacts")
# What the NLU is told the last question was about (its ``expecting``).
_EXPECTING: dict[Step, Expecting | None] = {
    "product": "product", "industry": "industry", "users": "users", "goals": "goals",
    "integrations": "integrations", "hosting": "hosting", "sla": "sla", "deadline": "deadline",
    "contacts": "name", "name": "name", "phone": "phone", "package": None, "offer": None, "manager_offered": None,
}
_AVITO_MARKUP = re.compile(r"[*_#`]")
_FIRST_LINE_COMMAND = re.compile(r"^/([a-z]+)(@\w+)?\b")
_INTERRUPTIONS = frozenset({"price", "product_info", "faq", "objection", "greeting", "help"})
_COMMANDS = frozenset({"start", "help", "menu", "price", "manager", "cancel"})


@dataclass
class _Turn:
    inp: DialogInput
    state: DialogState
    brief: dict[str, Any]
    parts: list[str] = field(default_factory=list)  # pieces of the reply being composed
    replies: list[Reply] = field(default_factory=list)  # finished replies
    buttons: list[Button] = field(default_factory=list)  # buttons of the reply being composed
    actions: list[Action] = field(default_factory=list)
    quote: QuoteResult | None = None
    handoff: dict[str, Any] | None = None
    filled: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # slot -> (old, new) this turn
    product_set: bool = False  # the product became known this turn
    price_now: bool = False  # the client asked for the price: show it as soon as the pricing slots are known
    done: bool = False  # the reply is complete; do not advance the funnel
    clarified: bool = False  # asked what the client means instead of guessing the intent

    @property
    def channel(self) -> str:
        return self.inp.channel

    @property
    def avito(self) -> bool:
        return self.inp.channel == "avito"

    def say(self, text: str) -> None:
        if text:
            self.parts.append(text)

    def flush(self) -> None:
        if self.parts:
            self.replies.append(Reply(text="\n\n".join(self.parts), buttons=list(self.buttons)))
        self.parts, self.buttons = [], []

    def set_slot(self, name: str, value: Any) -> bool:
        value = normalize_slot(name, value)
        if value is None:
            return False
        old = self.brief.get(name)
        if old != value:
            self.brief[name] = value
            previous = self.filled.get(name, (old, value))[0]
            self.filled[name] = (previous, value)
        return True


# --- public -------------------------------------------------------------------------------------------


def expecting_slot(state: DialogState) -> Expecting | None:
    """The slot the last question asked for: pass it to ``understand`` as ``expecting``."""
    if state.handoff or state.step is None:
        return None
    return _EXPECTING[state.step]


def decide(inp: DialogInput) -> Decision:
    """The next step of the conversation for one client message or button press."""
    if inp.channel not in CHANNELS:
        raise ValueError(f"unknown channel {inp.channel!r}")
    turn = _Turn(inp=inp, state=inp.state.model_copy(deep=True), brief=copy.deepcopy(inp.brief))
    if turn.state.handoff:
        if inp.text:  # a manager holds the conversation: keep what the client tells, say nothing
            _take_slots(turn)
        return _finish(turn)
    preselected = turn.state.product
    if turn.brief.get("product") not in PRODUCTS and preselected in PRODUCTS:
        turn.brief["product"] = preselected
    if inp.callback is not None:
        _on_callback(turn)
    else:
        _on_text(turn)
    return _finish(turn)


# --- text ---------------------------------------------------------------------------------------------


def _on_text(t: _Turn) -> None:
    text = (t.inp.text or "").strip()
    low = text.lower()
    u = t.inp.understanding
    intent: str = u.intent
    match = _FIRST_LINE_COMMAND.match(low)
    command = match.group(1) if match and match.group(1) in _COMMANDS else None
    first = not t.state.greeted
    t.state.greeted = True

    if command == "cancel":
        _restart(t)
        return
    if first or command == "start":
        greeting = texts.STILL_RELEVANT if "актуальн" in low else texts.HELLO
        t.say(f"{greeting} {texts.INTRO}" if first else greeting)
        preselected = t.state.product
        if first and preselected in PRODUCTS and t.brief.get("product") == preselected \
                and u.product in (NO_PRODUCT, preselected):
            t.say(texts.PRESELECTED.format(name=PRODUCT_INFO[preselected].title_genitive,
                                           pitch=PRODUCT_INFO[preselected].pitch))
    if command == "manager":
        intent = "human"
    elif command == "price":
        intent = "price"
    elif command in ("help", "menu"):
        t.say(texts.HELP)
        intent = "help"
    elif command == "start":
        intent = "greeting"

    if t.state.step == "manager_offered" and is_yes(text):
        intent = "human"  # «да» to «предлагаю подключить менеджера»
    negative = t.state.negative_streak + 1 if u.emotion == "negative" else 0
    t.state.negative_streak = negative
    if intent == "human":
        _handoff(t, "client_asked")
        return
    if negative >= STREAK_FOR_HANDOFF:
        _handoff(t, "negative_emotion")
        return

    if u.language == "en" and command is None:
        t.say(texts.ENGLISH_ONLY)  # the reply itself stays Russian: the managers speak Russian
    if _unsure(t, command, first):
        t.say(texts.CLARIFY)
        t.clarified = True
        return

    step = t.state.step
    understood = command is not None or intent != "other" or u.confidence >= LOW_CONFIDENCE or is_ack(text)
    understood |= _take_product(t, intent, step, text)
    understood |= _take_slots(t)
    if not low.startswith("/"):  # a command (even an unknown one) is never the answer to the question asked
        understood |= _take_answer(t, step, text, intent)

    if step is not None and step not in t.filled and intent in _INTERRUPTIONS:
        # The client asked something instead of answering: answer, then ask the same question again.
        t.state.asked = [s for s in t.state.asked if s != step]
    if understood:
        t.state.miss_streak = 0
    else:
        t.state.miss_streak += 1
        if t.state.miss_streak >= STREAK_FOR_HANDOFF:
            _handoff(t, "not_understood")
            return
        t.say(texts.NOT_UNDERSTOOD)

    _after_input(t)
    if t.done:
        return
    _route_intent(t, intent, text)
    if not t.done:
        _advance(t)


def _unsure(t: _Turn, command: str | None, first: bool) -> bool:
    """The learned intent is below the threshold and nothing else was understood: asking beats guessing."""
    u = t.inp.understanding
    return (command is None and not first and "intent" in u.field_confidence and u.confidence < t.inp.clarify_below
            and not u.slots and u.intent not in ("brief", "other", "greeting"))


def _take_product(t: _Turn, intent: str, step: Any, text: str) -> bool:
    u = t.inp.understanding
    product: str | None = u.product if u.product in PRODUCTS else None
    if product is None and step == "product":
        product = product_from_choice(text)
    if product is None:
        return False
    current = t.brief.get("product")
    if current == product:
        return False  # the NLU repeats the known product: nothing new was understood
    # A question about another product («а аналитик что умеет?») does not switch the brief's product.
    if current is None or step == "product" or intent in ("brief", "price", "payment", "documents", "other"):
        _set_product(t, product)
    return True


def _set_product(t: _Turn, product: str) -> None:
    current = t.brief.get("product")
    if current == product:
        return
    t.brief["product"] = product
    t.filled["product"] = (t.filled.get("product", (current, product))[0], product)
    if current is None:
        t.product_set = True


def _take_slots(t: _Turn) -> bool:
    text = (t.inp.text or "").strip()
    intent = t.inp.understanding.intent
    taken = False
    for name, value in t.inp.understanding.slots.items():
        if name == "product":
            continue
        if name == "name" and is_skip(text):  # «дальше» asked for a name is not a name
            continue
        if name in ("industry", "goals") and _raw_echo(value, text) and (
                intent in _INTERRUPTIONS or "product" in t.filled or dont_know(text) or is_skip(text)
                or (name == "industry" and len(text.split()) <= 3 and product_from_choice(text))):
            continue  # the whole message taken as the answer, but it was a question, a product or «не знаю»
        taken |= t.set_slot(name, value)
    return taken


def _raw_echo(value: Any, text: str) -> bool:
    def simple(s: str) -> str:
        return re.sub(r"[^\w\s]", "", s.lower()).strip()

    return isinstance(value, str) and simple(value) == simple(text)


def _take_answer(t: _Turn, step: Any, text: str, intent: str) -> bool:
    """The dialog's own reading of an answer to the question just asked, when the NLU found no slot for it."""
    if not isinstance(step, str) or not text or step in t.filled:
        return False
    if step in ("industry", "goals"):
        if dont_know(text):
            return True  # a soft question: fine, move on
        if not t.filled and intent in ("brief", "other") and is_free_text_answer(text):
            return t.set_slot(step, text)
        return False
    if step in ("users", "integrations"):
        number = bare_int(text)
        if number is not None and t.set_slot(step, number):
            return True
        if dont_know(text):
            if step == "users":
                t.say(texts.USERS_APPROX)
                return True
            return _default(t, step)
        return False
    if step in ("hosting", "sla", "deadline"):
        option = option_from_text(step, text)
        if option is not None:
            return t.set_slot(step, option)
        return _default(t, step) if dont_know(text) else False
    if step in ("contacts", "name", "phone") and is_skip(text):
        if step == "contacts":
            t.state.contacts_skipped = True
        else:  # asked for an action that needs a contact: the client declined it
            t.state.pending = None
        t.say(texts.CONTACTS_SKIPPED)
        return True
    if step in ("contacts", "name", "phone", "offer") and not t.brief.get("name") and "name" not in t.filled:
        name = name_like(text)
        if name:
            return t.set_slot("name", name)
    if step == "contacts":
        # Any other reply to the one-time contacts question is accepted: the prices come next.
        return intent in ("brief", "other")
    if step == "package":
        package = package_from_text(text)
        if package:
            t.state.package = Package(package)
            return True
    return False


def _default(t: _Turn, slot: str) -> bool:
    value = DONT_KNOW_DEFAULTS[slot]
    if not t.set_slot(slot, value):
        return False
    t.filled.pop(slot, None)  # said below, not echoed as the client's answer
    t.say(texts.DONT_KNOW_DEFAULT[slot])
    return True


# --- buttons --------------------------------------------------------------------------------------------


def _on_callback(t: _Turn) -> None:
    data = (t.inp.callback or "").strip()
    t.state.greeted = True
    t.state.miss_streak = 0
    head, _, rest = data.partition(":")

    if data == "human":
        _handoff(t, "client_asked")
        return
    if data == "restart":
        _restart(t)
        return
    if data == "book":
        _request(t, Pending(kind="booking"))
    elif head == "product" and rest in PRODUCTS:
        _set_product(t, rest)
    elif head == "slot" and _slot_callback(t, rest):
        pass
    elif head == "package" and rest in PACKAGES:
        t.state.package = Package(rest)
        if not t.state.pending:
            prices = t.state.quoted_prices or {}
            if rest in prices:
                t.say(texts.PACKAGE_CHOSEN.format(package=PACKAGE_TITLES[rest], price=rub(prices[rest])))
    elif head == "doc" and rest in DOC_KINDS:
        _request(t, Pending(kind="document", doc=DOC_KINDS[rest]))
    elif head == "pay" and rest in PACKAGES:
        t.state.package = Package(rest)
        _request(t, Pending(kind="payment"))
    else:
        logger.info("dialog: unknown button callback ({} bytes)", len(data.encode()))
        t.say(texts.UNKNOWN_BUTTON)

    _after_input(t)
    if not t.done:
        _advance(t)


def _slot_callback(t: _Turn, rest: str) -> bool:
    name, _, value = rest.partition(":")
    if name == "contacts" and value == "skip":
        t.state.contacts_skipped = True
        t.say(texts.CONTACTS_SKIPPED)
        return True
    if name not in PRICING_SLOTS:
        return False
    raw: Any = int(value) if name in ("users", "integrations") and value.isdigit() else value
    if t.set_slot(name, raw):
        return True
    t.say(texts.BAD_SLOT_VALUE)
    return True


# --- shared steps -------------------------------------------------------------------------------------


def _after_input(t: _Turn) -> None:
    """Say back what was understood, or recompute the quote when a quoted parameter changed."""
    snapshot = t.state.quoted_snapshot
    if snapshot is not None and brief_complete(t.brief) and pricing_snapshot(t.brief) != snapshot:
        _recalculate(t, snapshot)
        return
    if t.product_set and t.inp.understanding.intent in KNOWLEDGE_INTENTS:
        pass  # the answer itself is about the product
    elif t.product_set and (t.inp.text or "").rstrip().endswith("?"):
        product = t.brief["product"]
        t.say(texts.PRODUCT_INFO_FALLBACK.format(name=PRODUCT_INFO[product].title, pitch=PRODUCT_INFO[product].pitch))
    elif t.product_set:
        product = t.brief["product"]
        t.say(texts.PRODUCT_CHOSEN.format(name=PRODUCT_INFO[product].title, pitch=PRODUCT_INFO[product].pitch))
    elif "product" in t.filled:
        t.say(texts.PRODUCT_SWITCHED.format(name=PRODUCT_INFO[t.brief["product"]].title))
    step = t.state.step
    echoes = [str(echo(name, new)) for name, (_, new) in t.filled.items()
              if name in PRICING_SLOTS and echo(name, new)]
    echoes += [texts.SOFT_ECHO[name].format(value=new) for name, (_, new) in t.filled.items()
               if name in texts.SOFT_ECHO and name != step and t.inp.callback is None]
    if echoes:
        t.say(texts.ACK_PREFIX + ", ".join(echoes) + ".")
    if "name" in t.filled and t.brief.get("name"):
        t.say(texts.CONTACTS_THANKS.format(name=t.brief["name"]))
    elif not echoes and not t.product_set and ({"phone", "email"} & set(t.filled)):
        t.say(texts.CONTACTS_THANKS_NONAME)


def _route_intent(t: _Turn, intent: str, text: str) -> None:
    u = t.inp.understanding
    if intent == "price":
        t.price_now = True
        if "quote" in (a.kind for a in t.actions) or brief_complete(t.brief):
            if t.state.quoted_snapshot is not None and not t.quote:
                t.say(texts.QUOTE_REPEAT + " " + _price_line(t.state.quoted_prices or {}))
            return
        t.state.price_asks += 1
        missing = [slot for slot in PRICING_SLOTS if t.brief.get(slot) is None]
        if t.state.price_asks > 1 and t.brief.get("product") in PRODUCTS:
            n = len(missing)
            t.say(texts.PRICE_AGAIN.format(n=n, questions=plural(n, "вопрос", "вопроса", "вопросов")))
        else:
            t.say(texts.PRICE_DEPENDS + " " + _from_price(t) + " " + texts.PRICE_CONTINUE)
    elif intent in KNOWLEDGE_INTENTS:
        answer = compose_answer(t.inp.knowledge)
        if not answer:
            answer = _fallback_answer(t, intent, text, u.product)
        t.say(answer)
    elif intent == "documents":
        _request(t, Pending(kind="document", doc=document_kind(text)))
    elif intent == "booking":
        _request(t, Pending(kind="booking"))
    elif intent == "payment":
        package = package_from_text(text)
        if package:
            t.state.package = Package(package)
        _request(t, Pending(kind="payment"))
    elif intent == "greeting" and not t.parts:
        t.say(texts.HELLO)


def _fallback_answer(t: _Turn, intent: str, text: str, product: str) -> str:
    if intent == "objection":
        low = text.lower()
        for kind, words in texts.OBJECTION_KEYWORDS:
            if any(word in low for word in words):
                return texts.OBJECTION_ANSWERS[kind]
        return texts.OBJECTION_ANSWERS["other"]
    if intent == "product_info":
        code = product if product in PRODUCTS else t.brief.get("product")
        if code in PRODUCTS:
            return texts.PRODUCT_INFO_FALLBACK.format(name=PRODUCT_INFO[code].title, pitch=PRODUCT_INFO[code].pitch)
        return "\n".join(texts.PRODUCT_INFO_FALLBACK.format(name=PRODUCT_INFO[c].title, pitch=PRODUCT_INFO[c].pitch)
                         for c in PRODUCTS)
    return texts.FAQ_FALLBACK


def _from_price(t: _Turn) -> str:
    product = t.brief.get("product")
    if product in PRODUCTS:
        return texts.PRICE_FROM_PRODUCT.format(name=PRODUCT_INFO[product].title,
                                               price=rub(start_price(product, t.inp.rates)))
    items = ", ".join(f"{PRODUCT_INFO[code].title} — от {rub(start_price(code, t.inp.rates))}"
                      for code in PRODUCTS)
    return texts.PRICE_FROM_ALL.format(items=items)


def _price_line(prices: dict[str, Any]) -> str:
    return "; ".join(f"{PACKAGE_TITLES[code]} — {rub(int(prices[code]))}"
                     for code in PACKAGES if code in prices) + "."


def _request(t: _Turn, pending: Pending) -> None:
    """Remember what the client wants done; ``_advance`` does it once its prerequisites are known."""
    t.state.pending = pending


# --- quote ----------------------------------------------------------------------------------------------


def _quote_allowed(t: _Turn) -> bool:
    # The first quote is always allowed; after it, at most max_quote_recalculations more for the lead.
    return t.inp.quotes_done <= t.inp.max_quote_recalculations


def _refuse_quote(t: _Turn) -> None:
    t.say(texts.QUOTE_LIMIT + (" " + texts.QUOTE_LIMIT_AVITO if t.avito else ""))
    t.buttons = [Button(texts.BTN_MANAGER, "human"), Button(texts.BTN_PROPOSAL, "doc:proposal")]
    t.state.step = "manager_offered"
    t.done = True


def _store_quote(t: _Turn, result: QuoteResult, *, recalculation: bool) -> dict[str, int]:
    prices = package_prices(result)
    t.quote = result
    t.state.quoted_snapshot = pricing_snapshot(t.brief)
    t.state.quoted_prices = prices
    t.actions.append(Action("quote", {"recalculation": recalculation, "prices": dict(prices)}))
    return prices


def _show_quote(t: _Turn) -> bool:
    if not _quote_allowed(t):
        _refuse_quote(t)
        return False
    result = compute_quote(t.brief, t.inp.rates)
    _store_quote(t, result, recalculation=False)
    t.say(texts.QUOTE_INTRO + "\n\n" + quote_text(result, t.channel))
    t.flush()
    return True


def _recalculate(t: _Turn, snapshot: dict[str, Any]) -> None:
    changes = []
    for key, old in snapshot.items():
        new = t.brief.get(key)
        if new == old:
            continue
        old_text = str(old) if isinstance(old, int) else echo(key, old)
        changes.append(f"{echo(key, new)} вместо {old_text}")
    if not _quote_allowed(t):
        for key, old in snapshot.items():  # keep the brief as quoted: the quote on file still matches it
            t.brief[key] = old
            t.filled.pop(key, None)
        _refuse_quote(t)
        return
    old_prices = t.state.quoted_prices or {}
    result = compute_quote(t.brief, t.inp.rates)
    prices = _store_quote(t, result, recalculation=True)
    lines = [texts.QUOTE_RECALC_INTRO.format(changes=", ".join(changes))]
    for code in PACKAGES:
        name = PACKAGE_TITLES[code]
        if code in old_prices and int(old_prices[code]) != prices[code]:
            lines.append(texts.QUOTE_DIFF.format(name=name, price=rub(prices[code]), old=rub(int(old_prices[code]))))
        else:
            lines.append(f"{name}: {rub(prices[code])}.")
    t.say("\n".join(lines))


# --- the funnel -------------------------------------------------------------------------------------


def _advance(t: _Turn) -> None:
    """Do what is pending if possible, otherwise ask the next missing thing, otherwise offer the next step."""
    if _fulfil_pending(t):
        return
    pending = t.state.pending
    if pending and pending.kind == "booking":  # a consultation does not wait for the brief
        _ask_contact_for(t, "booking")
        return
    if t.brief.get("product") not in PRODUCTS:
        _ask(t, "product")
        return
    step = _next_brief_step(t)
    if step:
        if pending and not t.state.asked_for_pending:
            t.state.asked_for_pending = True
            t.say(texts.DOC_NEEDS_BRIEF if pending.kind == "document" else texts.PAY_NEEDS_BRIEF)
        _ask(t, step)
        return
    if t.state.quoted_snapshot is None:
        if not _show_quote(t):
            return
        if _fulfil_pending(t):
            return
    pending = t.state.pending
    if pending:
        _ask_for_pending(t, pending)
        return
    _offer(t)


def _next_brief_step(t: _Turn) -> Step | None:
    pending = t.state.pending
    fast = t.state.price_asks >= STREAK_FOR_HANDOFF or (pending is not None and pending.kind in ("document",
                                                                                                "payment"))
    asked = set(t.state.asked)
    for step in BRIEF_STEPS:
        if step in SOFT_STEPS:
            if step in asked or fast or (t.price_now and brief_complete(t.brief)):
                continue
            if step == "contacts":
                if t.state.contacts_skipped or (t.brief.get("name") and has_contact(t.brief)):
                    continue
            elif t.brief.get(step):
                continue
            return step
        if t.brief.get(step) is None:
            return step
    return None


def _fulfil_pending(t: _Turn) -> bool:
    """Perform the pending action if everything it needs is known; True if done."""
    pending = t.state.pending
    if pending is None:
        return False
    kind = pending.kind
    quoted = t.state.quoted_snapshot is not None
    package = t.state.package or ""
    prices = t.state.quoted_prices or {}
    if kind == "booking":
        if not has_contact(t.brief):
            return False
        t.actions.append(Action("booking", {}))
        t.say(texts.BOOKING_START)
    elif kind == "document":
        doc = pending.doc or "proposal"
        if not quoted:
            return False
        if doc != "proposal" and not (package and t.brief.get("name") and has_contact(t.brief)):
            return False
        t.actions.append(Action("document", {"kind": doc, "package": package or None}))
        name = package_title(package)
        t.say(texts.DOC_PREPARING[doc].format(package=name))
    elif kind == "payment":
        if not (quoted and package in prices and has_contact(t.brief)):
            return False
        t.actions.append(Action("payment", {"package": package}))
        t.say(texts.PAYMENT_START.format(package=PACKAGE_TITLES[package], price=rub(int(prices[package]))))
    else:
        t.state.pending = None
        return False
    t.state.pending = None
    t.state.asked_for_pending = False
    t.state.step = "offer"
    return True


def _ask_for_pending(t: _Turn, pending: Pending) -> None:
    kind = pending.kind
    needs_package = kind == "payment" or (kind == "document" and pending.doc != "proposal")
    if needs_package and t.state.package not in PACKAGES:
        _ask(t, "package")
        return
    _ask_contact_for(t, "document" if kind == "document" else str(kind))


def _ask_contact_for(t: _Turn, kind: str) -> None:
    t.say(texts.CONTACT_NEEDED[kind])
    needs_name = kind == "document" and not t.brief.get("name")
    _ask(t, "name" if needs_name else "phone", say_text=False)


# --- questions -----------------------------------------------------------------------------------------


def _ask(t: _Turn, step: Step, *, say_text: bool = True) -> None:
    """Add the question for ``step`` (with buttons, or the options in text on Avito) and remember it."""
    text, buttons = _question(t, step)
    if say_text:
        t.say(text)
    t.buttons = buttons
    t.state.step = step
    if step not in t.state.asked:
        t.state.asked = [*t.state.asked, step]


def _slot_buttons(slot: str) -> list[Button]:
    return [Button(label, f"slot:{slot}:{value}") for label, value in texts.OPTIONS[slot]]


def _question(t: _Turn, step: Step) -> tuple[str, list[Button]]:
    product = str(t.brief["product"]) if t.brief.get("product") in PRODUCTS else NO_PRODUCT
    if step == "product":
        if t.avito:  # no buttons: a numbered list (``product_from_choice`` reads the numbers back)
            items = [texts.Q_PRODUCT_AVITO_ITEM.format(n=n, name=p.info.title, pitch=p.info.pitch)
                     for n, p in enumerate(PRODUCTS, 1)]
            listing = "\n".join([*items, texts.Q_PRODUCT_AVITO_HINT])
        else:
            listing = "\n".join(texts.Q_PRODUCT_ITEM.format(name=p.info.title, pitch=p.info.pitch) for p in PRODUCTS)
        return (texts.Q_PRODUCT + "\n" + listing, [Button(p.info.title, f"product:{p}") for p in PRODUCTS])
    if step == "industry":
        return texts.Q_INDUSTRY, []
    if step == "users":
        text = texts.Q_USERS[product]
        return (text + " " + texts.Q_USERS_AVITO if t.avito else text), _slot_buttons("users")
    if step == "goals":
        return texts.Q_GOALS[product], []
    if step == "integrations":
        text = texts.Q_INTEGRATIONS + (" " + texts.Q_INTEGRATIONS_AVITO if t.avito else "")
        return text, _slot_buttons("integrations")
    if step == "hosting":
        security = t.brief.get("security")
        extra = (texts.Q_HOSTING_KNOWN_SECURITY.format(security=security) if security
                 else texts.Q_HOSTING_SECURITY)
        text = (extra + " " + texts.Q_HOSTING) if security else (texts.Q_HOSTING + " " + extra)
        return text, _slot_buttons("hosting")
    if step == "sla":
        return texts.Q_SLA + " " + texts.Q_SLA_LIST, _slot_buttons("sla")
    if step == "deadline":
        return texts.Q_DEADLINE, _slot_buttons("deadline")
    if step == "contacts":
        text = texts.Q_CONTACTS_NAME_KNOWN.format(name=t.brief["name"]) if t.brief.get("name") else texts.Q_CONTACTS
        if t.avito:
            text += " " + texts.Q_CONTACTS_AVITO_SKIP
        return text, [Button(texts.SKIP_CONTACTS_BUTTON, "slot:contacts:skip")]
    if step == "name":
        return texts.Q_NAME, []
    if step == "phone":
        return texts.Q_PHONE, []
    if step == "package":
        prices = t.state.quoted_prices or {}
        labels = {code: f"{PACKAGE_TITLES[code]} — {rub(int(prices[code]))}" if code in prices
                  else PACKAGE_TITLES[code] for code in PACKAGES}
        if t.avito:
            options = ", ".join(labels[code] for code in PACKAGES)
            return texts.Q_PACKAGE + " " + texts.PACKAGE_ASK_AVITO.format(options=options), []
        return texts.Q_PACKAGE, [Button(labels[code], f"package:{code}") for code in PACKAGES]
    raise ValueError(f"no question for step {step!r}")


def _offer(t: _Turn) -> None:
    chosen = t.state.package
    package = str(chosen) if chosen in PACKAGES else RECOMMENDED_PACKAGE
    name = PACKAGE_TITLES[package]
    if not t.state.offered:
        t.say(texts.OFFER.format(package=name) + (" " + texts.OFFER_AVITO if t.avito else ""))
        t.state.offered = True
    elif t.avito:
        t.say(texts.OFFER_AVITO)
    elif not t.parts:
        t.say(texts.OFFER_SHORT)
    t.buttons = [
        Button(texts.BTN_PROPOSAL, "doc:proposal"),
        Button(texts.BTN_BOOKING, "book"),
        Button(texts.BTN_PAY.format(package=name), f"pay:{package}"),
        Button(texts.BTN_MANAGER, "human"),
    ]
    t.state.step = "offer"


# --- restart / handoff -----------------------------------------------------------------------------------


def _restart(t: _Turn) -> None:
    contacts = {key: t.brief[key] for key in CONTACT_SLOTS if t.brief.get(key)}
    t.brief.clear()
    t.brief.update(contacts)
    t.state = DialogState(greeted=t.state.greeted, stage=t.state.stage)
    t.parts.clear()
    t.say(texts.RESTARTED)
    _ask(t, "product")


def _handoff(t: _Turn, reason: str) -> None:
    greeted = [p for p in t.parts if p.startswith((texts.HELLO, texts.STILL_RELEVANT))]
    t.parts = [texts.STILL_RELEVANT if greeted[0].startswith(texts.STILL_RELEVANT) else texts.HELLO] \
        if greeted else []
    t.buttons = []
    opener = {"client_asked": texts.HANDOFF_CLIENT_ASKED, "negative_emotion": texts.HANDOFF_NEGATIVE,
              "not_understood": texts.HANDOFF_NOT_UNDERSTOOD}[reason]
    t.say(opener + " " + manager_eta(t.inp.now, t.inp.working_hours))
    summary = build_summary(reason=reason, channel=t.channel, brief=t.brief, state=t.state,
                            history=t.inp.history, last_text=t.inp.text)
    t.handoff = {"reason": reason, "summary": summary}
    t.actions.append(Action("handoff", dict(t.handoff)))
    t.state.handoff = True
    t.state.step = None
    t.state.pending = None
    t.state.negative_streak = 0
    t.state.miss_streak = 0
    t.done = True


# --- result ---------------------------------------------------------------------------------------------


def _stage(t: _Turn) -> str | None:
    if t.state.quoted_snapshot is not None or t.inp.quotes_done > 0:
        target = "quoted"
    elif brief_complete(t.brief):
        target = "brief_done"
    elif t.brief.get("product") in PRODUCTS and has_contact(t.brief):
        target = "qualified"
    else:
        target = "new"
    if stage_rank(target) > stage_rank(t.state.stage):
        t.state.stage = Stage(target)
        return target
    return None


def _plain(text: str) -> str:
    return _AVITO_MARKUP.sub("", text)


def _finish(t: _Turn) -> Decision:
    t.flush()
    replies = t.replies
    if t.avito:  # Avito shows neither buttons nor Markdown: the text already lists the options
        replies = [Reply(text=_plain(r.text), buttons=[], attachments=r.attachments) for r in replies]
    stage = None if t.state.handoff and not t.handoff else _stage(t)
    t.state.expecting = expecting_slot(t.state)
    return Decision(replies=replies, state=t.state, brief=t.brief, brief_changed=t.brief != t.inp.brief,
                    quote=t.quote, actions=t.actions, stage=stage, handoff=t.handoff, clarified=t.clarified)
