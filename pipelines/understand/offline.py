"""Offline (rule and lexicon based) understanding of one Russian client message.

    understand_offline("юристь на 20 сотрудников скок стоит") ->
        Understanding(intent="price", product="ai_lawyer", emotion="neutral", slots={"users": 20}, ...)

No network, no model: normalisation (translit, typos, numbers in words) + stem patterns + pymorphy3 for names.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pipelines.understand import slots as sl
from pipelines.understand.learned import RuleReading, decide, is_english
from pipelines.understand.lexicon import compiled, product_patterns
from pipelines.understand.normalize import normalize
from pipelines.understand.types import Understanding
from voronka.vocabulary import NO_PRODUCT, PRODUCT_OR_NONE, Emotion, Intent, Product

# Slots that are facts about the client's needs: kept only when the message states them (brief/price),
# not when it merely asks about them («вы соблюдаете 152-ФЗ?», «бот умеет с 1С?»).
_NEED_SLOTS = ("users", "integrations", "hosting", "sla", "deadline", "industry", "goals", "security")
_CONTACT_SLOTS = ("name", "phone", "email")
_FACT_INTENTS = frozenset({"brief", "price", "documents"})  # «кп с расчётом на 20 пользователей» keeps the 20
_WE_RE = re.compile(r"\b(?:мы|у нас|наша|наш|нас|наше|наши|являемся)\b")
# «КП в телеграм», «договор на почту»: where to send a paper, not a system to connect
_DELIVERY_RE = re.compile(
    r"\b(?:в|на|по|через)\s+(?:мой\s+|мою\s+|наш\s+|нашу\s+|личн\w+\s+)?(?:telegram\w*|телеграм\w*|whatsapp\w*|вотсап\w*"
    r"|ватсап\w*|почт\w*|email|e-mail|вк|личк\w*|мессенджер\w*)\b"
)
_REFUSE_PAY_RE = re.compile(r"\bне\s+(?:\w+\s+){0,2}(?:платить|оплачивать|заплатить)\b")  # «не хочу платить за воздух»

# «спасибо за консультацию»: thanks for a past call, not asking for one
_THANKS_FOR_RE = re.compile(
    r"^\W*(?:спасибо|благодарю|благодарим)\s+(?:вам\s+)?(?:\w+\s+)?за\s+(?:\w+\s+)?\w+\W*$"
)
# «не сейчас, спасибо», «нет, спасибо»: a polite refusal is not a positive message
_REFUSAL = r"(?:нет|(?:пока\s+)?не\s+(?:сейчас|надо|нужно|интересно|актуально)|пока\s+нет)"
_POLITE_REFUSAL_RE = re.compile(
    rf"\b{_REFUSAL}\W+(?:спасибо|благодарю)\b|\b(?:спасибо|благодарю)\W+(?:но\s+)?{_REFUSAL}\b"
)
# «юрист проверяет договоры на английском?»: a product doing something, asked about (present tense, 3rd person)
_PRODUCT_DOES_RE = re.compile(
    r"\b(?:юрист|аналитик|менеджер|бот)\w*\s+(?:\w+\s+)?(?:сам\s+|сама\s+)?"
    r"(?!(?:стоит|будет|выйдет|обойдется|нужен|нужна)\b)[а-я]{3,}(?:ает|яет|ует|ивает|ывает|ит|ет)\b"
)

# The combination: the model decides the intent, except where the rules read an explicit request for a person or a
# paper. Measured on 5-fold CV over train.jsonl (intent embedding+rules, l2 0.1): model alone 0.8488, with the rules'
# human and documents kept 0.8499, documents alone 0.8511, adding payment and booking 0.8488.
_RULES_KEEP_INTENT = frozenset({"human", "documents"})

_CONFIDENCE = {
    "human": 0.9, "faq_strong": 0.8, "documents": 0.9, "payment": 0.9, "booking": 0.85, "objection": 0.8,
    "price": 0.9, "faq": 0.75, "expecting": 0.9, "brief": 0.8, "capability": 0.75, "product_info": 0.7,
    "greeting": 0.85, "other": 0.3,
}


def detect_product(t: str, min_score: int = 2) -> str:
    """The product the message is about, or "none" (two products equally named → "none")."""
    c = compiled()
    clean = c["product_noise"].sub(" ", t)
    scores: dict[str, int] = {}
    for product, pats in product_patterns().items():
        score = sum(w for rx, w in pats for _ in rx.finditer(clean))
        if score:
            scores[product] = score
    if not scores:
        return NO_PRODUCT
    best = max(scores.values())
    if best < min_score:
        return NO_PRODUCT
    winners = [p for p, s in scores.items() if s == best]
    return winners[0] if len(winners) == 1 else NO_PRODUCT


def detect_emotion(t: str, raw: str) -> str:
    c = compiled()
    t = _POLITE_REFUSAL_RE.sub(" ", t)
    raw = _POLITE_REFUSAL_RE.sub(" ", raw.lower())
    if c["negative"].search(t) or c["negative"].search(raw.lower()):
        return "negative"
    if c["positive"].search(t) or c["positive"].search(raw.lower()):
        return "positive"
    return "neutral"


def extract_slots(t: str, raw: str, *, expecting: str | None, today: date, is_question: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    phones = sl.phones(raw)
    if phones:
        found["phone"] = phones[0][2]
    mail = sl.email(raw)
    if mail:
        found["email"] = mail
    nm = sl.name(raw, expecting, has_contact=bool(phones or mail))
    if nm:
        found["name"] = nm
    value: Any
    value = sl.users(t, expecting)
    if value is not None:
        found["users"] = value
    value = sl.integrations(t, expecting, has_email=bool(mail))
    if value is not None:
        found["integrations"] = value
    for key, fn in (("hosting", sl.hosting), ("sla", sl.sla), ("goals", sl.goals), ("security", sl.security)):
        value = fn(t, expecting)
        if value is not None:
            found[key] = value
    value = sl.deadline(t, expecting, today)
    if value is not None:
        found["deadline"] = value
    # A question is not an answer, even to «какая у вас сфера?»: only a known industry named in it counts.
    value = sl.industry(t, expecting) if not is_question else sl.industry(t, None) if _WE_RE.search(t) else None
    if value is not None:
        found["industry"] = value
    return found


def _strip_contacts(raw: str) -> str:
    """Remove phone numbers (they would read as head counts and ranges) before normalising."""
    out = raw
    for start, end, _ in sorted(sl.phones(raw), reverse=True):
        out = out[:start] + " " + out[end:]
    return out


def _is_question(t: str, product: str) -> bool:
    """A question mark or a question word, or «аналитик умеет строить прогнозы» (a capability asked without «?»)."""
    c = compiled()
    return bool(c["question"].search(t)) or (product != NO_PRODUCT and bool(c["product_question"].search(t)))


def _decide_intent(
    t: str, product: str, found: dict[str, Any], expecting: str | None, current_product: str | None = None
) -> tuple[str, str]:
    """(intent, rule) — the rule name sets the confidence.

    Precedence, most specific first: a capability question about a product; wanting a person; agency questions
    that look like other intents (data-safety guarantees, «подписываете NDA?»); a price asked in payment words;
    paying (the verb) before documents, unless a paper is asked for; documents; payment; booking; doubts
    (objection); price. Then a question asked while the bot waits for an answer is answered as a question;
    only then does an answer fill the expected slot.
    """
    c = compiled()
    is_question = _is_question(t, product)
    need = bool(c["need"].search(t))
    we = bool(_WE_RE.search(t))
    need_facts = any(k in found for k in _NEED_SLOTS)
    bare_product_answer = expecting == "product" and product != NO_PRODUCT and len(t.split()) <= 3
    product_question = is_question and product != NO_PRODUCT and bool(c["product_question"].search(t))
    if product_question and not need and not we:
        return "product_info", "capability"  # «бот может передать клиента живому менеджеру?»
    if _THANKS_FOR_RE.search(t):
        return "other", "other"
    if c["human"].search(t) and not bare_product_answer:
        return "human", "human"
    if c["faq_strong"].search(t):
        return "faq", "faq_strong"
    if c["price_strong"].search(t):
        return "price", "price"
    if c["booking_strong"].search(t):
        return "booking", "booking"
    refuses_to_pay = bool(_REFUSE_PAY_RE.search(t))  # «не хотим платить за воздух» is pushback, not paying
    if c["payment_verb"].search(t) and not c["documents_request"].search(t) and not refuses_to_pay:
        return "payment", "payment"  # «оплачиваем по счёту?», «счёт оплатим в пятницу»
    for rule in ("documents", "payment", "booking", "objection", "price"):
        if rule == "documents" and product_question:
            return "product_info", "capability"
        if rule == "payment" and refuses_to_pay:
            continue
        if c[rule].search(t):
            return rule, rule
    if is_question and c["faq"].search(t):
        return "faq", "faq"  # also while the bot waits for an answer: a question is not an answer
    asked_product = product if product != NO_PRODUCT else (current_product or NO_PRODUCT)
    does = bool(_PRODUCT_DOES_RE.search(t))
    if is_question and asked_product != NO_PRODUCT and (c["capability"].search(t) or does) and not we:
        return "product_info", "capability"
    if expecting and expecting in found:
        return "brief", "expecting"
    if expecting == "product" and product != NO_PRODUCT:
        return "brief", "expecting"
    if c["greeting_strong"].search(t) and not need_facts:
        return "greeting", "greeting"  # «по ИИ-юристу объявление актуально?»
    if is_question and c["product_info"].search(t) and not need and not we:
        return "product_info", "product_info"
    states_nothing = not (need or we or need_facts or any(k in found for k in _CONTACT_SLOTS))
    if is_question and product != NO_PRODUCT and states_nothing:
        return "product_info", "product_info"  # «а что аналитик по рекламе?»: asks about the product, states nothing
    if need_facts or any(k in found for k in _CONTACT_SLOTS):
        return "brief", "brief"
    if c["greeting_strong"].search(t):
        return "greeting", "greeting"
    if product != NO_PRODUCT and need and not is_question:
        return "brief", "brief"
    if c["product_info"].search(t) or product != NO_PRODUCT:
        return "product_info", "product_info"
    if c["faq"].search(t):
        return "faq", "faq"
    if c["greeting"].search(t):
        return "greeting", "greeting"
    return "other", "other"


def rule_reading(
    text: str,
    *,
    current_product: str | None = None,
    expecting: str | None = None,
    today: date | None = None,
) -> tuple[str, RuleReading, dict[str, Any]]:
    """What the rules alone say: (normalised text, their reading, the slots found before filtering by intent)."""
    raw = (text or "").strip()
    t = normalize(_strip_contacts(raw))
    c = compiled()
    product = detect_product(t)
    is_question = _is_question(t, product)
    found = extract_slots(t, raw, expecting=expecting, today=today or date.today(), is_question=is_question)
    if (
        is_question
        and "integrations" in found
        and expecting != "integrations"
        and not c["need"].search(t)
        and not c["integration_context"].search(t)
        and not sl.explicit_integrations(t)
        and not c["price"].search(t)
    ):
        # «вы продаете аккаунты авито?», «бот в вк работает?»: a system named in a question is not a fact
        del found["integrations"]
    intent, rule = _decide_intent(t, product, found, expecting, current_product)
    if intent == "human":
        product = detect_product(t, min_score=3)  # «бот тупит, дайте человека»: this chat, not the product
    if intent == "objection" and product == NO_PRODUCT:
        product = _compared_role(t)  # «проще нанять живого менеджера»: the product being compared
    reading = RuleReading(
        intent=intent, rule=rule, product=product, emotion=detect_emotion(t, raw), slots=frozenset(found),
        expecting=expecting, is_question=is_question, rule_confidence=_CONFIDENCE.get(rule, 0.5),
    )
    return t, reading, found


def understand_offline(
    text: str,
    *,
    current_product: str | None = None,
    expecting: str | None = None,
    today: date | None = None,
) -> Understanding:
    """Intent, product, emotion and slots of one client message, without any network call.

    ``current_product`` is the product the conversation is already about (used when the message names none);
    ``expecting`` is the slot the dialog just asked for, so a bare answer («20», «облако», «Иван») fills it;
    ``today`` anchors relative deadlines («к пятнице», «до 20 марта»), default: the local date.
    Slots come from the rules; intent, product and emotion from the rules, the learned model or their combination,
    whichever measured best (pipelines/understand/learned.py, model/manifest.json).
    """
    raw = (text or "").strip()
    if not raw:
        return Understanding(product=_product_or(current_product), confidence=0.0)
    t, rules, found = rule_reading(raw, current_product=current_product, expecting=expecting, today=today)
    decision = decide(raw, t, rules)
    intent, product = decision.intent, decision.product
    confidence = dict(decision.confidence)
    if rules.intent in _RULES_KEEP_INTENT and intent != rules.intent:
        intent, confidence["intent"] = rules.intent, rules.rule_confidence
    if intent == "documents" and "integrations" in found and not sl.explicit_integrations(t):
        # «КП в телегу / на почту»: where to send it, not a system to connect; a brief inside the request
        # («КП: менеджер, 40 пользователей, амо и телеграм») keeps the systems it lists
        n = sl.integrations(_DELIVERY_RE.sub(" ", t), None, has_email="email" in found)
        if n:
            found["integrations"] = n
        else:
            del found["integrations"]
    if intent not in _FACT_INTENTS:
        keep_expected = expecting if intent == "brief" else None
        found = {k: v for k, v in found.items() if k in _CONTACT_SLOTS or k == keep_expected}
    if product == NO_PRODUCT:
        product = _product_or(current_product)
    return Understanding(
        intent=Intent(intent),
        product=product,
        emotion=Emotion(decision.emotion),
        slots=found,
        confidence=confidence["intent"],
        field_confidence=confidence,
        language="en" if is_english(raw) else "ru",
        source="offline",
    )


_ROLE_RE = re.compile(
    r"\b(?:нанять|нанимать|взять|держать|есть)\s+(?:\w+\s+){0,2}(менеджер|юрист|аналитик)\w*"
)
_ROLE_PRODUCT = {"менеджер": Product.AI_MANAGER, "юрист": Product.AI_LAWYER, "аналитик": Product.AI_ANALYST}


def _compared_role(t: str) -> str:
    m = _ROLE_RE.search(t)
    return _ROLE_PRODUCT[m.group(1)] if m else NO_PRODUCT


def _product_or(current: str | None) -> str:
    return current if current in PRODUCT_OR_NONE else NO_PRODUCT
