"""What understanding produces for one client message (the contract between understand, dialog and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Intent = Literal["greeting", "product_info", "price", "brief", "objection", "booking", "payment", "documents",
                 "human", "faq", "other"]
Product = Literal["ai_manager", "ai_lawyer", "ai_analyst", "none"]
Emotion = Literal["positive", "neutral", "negative"]

INTENTS: tuple[str, ...] = ("greeting", "product_info", "price", "brief", "objection", "booking", "payment",
                            "documents", "human", "faq", "other")
PRODUCTS: tuple[str, ...] = ("ai_manager", "ai_lawyer", "ai_analyst", "none")
EMOTIONS: tuple[str, ...] = ("positive", "neutral", "negative")

# Slot names. Pricing slots: users (int), integrations (int), hosting (cloud|hybrid|onprem),
# sla (standard|99.5|99.9), deadline (standard|lt2w|lt1w). Others are free text / normalised strings:
# industry, goals, security, name, phone (+7XXXXXXXXXX), email.
PRICING_SLOTS: tuple[str, ...] = ("users", "integrations", "hosting", "sla", "deadline")
OTHER_SLOTS: tuple[str, ...] = ("industry", "goals", "security", "name", "phone", "email")


@dataclass
class Understanding:
    intent: Intent = "other"
    product: Product = "none"
    emotion: Emotion = "neutral"
    slots: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.0  # 0..1, how sure the offline rules are of the intent
    source: Literal["offline", "llm"] = "offline"

    def as_dict(self) -> dict[str, Any]:
        """The shape `voronka analyze --jsonl` prints: only found slots, ints as ints."""
        return {"intent": self.intent, "product": self.product, "emotion": self.emotion, "slots": dict(self.slots)}
