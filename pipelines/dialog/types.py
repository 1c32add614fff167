"""The dialog's contract: what the caller hands to ``decide`` and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pipelines.understand.types import Understanding

if TYPE_CHECKING:
    from db.rate_table import RateTable
    from pipelines.price.types import QuoteResult

    from .state import DialogState

# Channels and lead stages are the vocabulary's (voronka/vocabulary.py: Channel, Stage, FUNNEL). This module advances
# a lead up to "quoted"; later stages ("booked", "paid") are set by other pipelines.

HandoffReason = Literal["client_asked", "negative_emotion", "not_understood"]

MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback_data


@dataclass
class Button:
    text: str
    callback: str  # ASCII, at most 64 bytes, e.g. "product:ai_lawyer"

    def __post_init__(self) -> None:
        if not self.callback.isascii() or len(self.callback.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"button callback must be ASCII and at most {MAX_CALLBACK_BYTES} bytes")


@dataclass
class Reply:
    text: str
    buttons: list[Button] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Knowledge:
    """A retrieved knowledge-base chunk."""

    title: str
    text: str
    source: str
    doc_type: str


@dataclass
class DialogInput:
    channel: str  # "avito" | "telegram" | "site"
    text: str | None  # client text, or None for a button press
    callback: str | None  # button callback data, or None
    understanding: Understanding  # computed by the caller for `text` with expecting=expecting_slot(state)
    state: DialogState  # per-conversation state (DialogState.load of the stored JSON); DialogState() at start
    brief: dict[str, Any]  # per-lead slots collected so far (shared across channels); {} at start
    history: list[dict[str, Any]]  # last <= 20 messages [{"role": "client|assistant|manager", "text": ...}]
    knowledge: list[Knowledge]  # retrieved chunks for product_info / faq / objection (may be empty)
    rates: RateTable
    quotes_done: int  # how many quotes were computed for this lead so far
    max_quote_recalculations: int
    now: datetime  # aware
    working_hours: str = "10:00-19:00"  # Mon-Fri, Europe/Moscow
    clarify_below: float = 0.0  # intent confidence under this: ask what the client means (NLU_CLARIFY_BELOW); 0 never


@dataclass
class Action:
    """Something the caller must do after sending the replies.

    kinds: "quote" {"packages": {...}}, "document" {"kind": "proposal|contract|invoice", "package": code|None},
    "booking" {}, "payment" {"package": code}, "handoff" {"reason", "summary"} (same data as ``Decision.handoff``).
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    replies: list[Reply]
    state: DialogState  # the caller stores state.dump()
    brief: dict[str, Any]
    brief_changed: bool
    quote: QuoteResult | None = None  # a freshly computed quote (the caller stores it and counts it)
    actions: list[Action] = field(default_factory=list)
    stage: str | None = None  # the lead's new stage when it advanced
    handoff: dict[str, Any] | None = None  # {"reason": HandoffReason, "summary": "<Russian text>"}
    clarified: bool = False  # the intent was too unsure: the dialog asked what the client means (counted)
