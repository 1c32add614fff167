"""What understanding produces for one client message (the contract between understand, dialog and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from voronka.vocabulary import NO_PRODUCT, Emotion, Intent

# The labels (intents, products or «none», emotions) and the slot names are the vocabulary's: voronka/vocabulary.py
# (INTENTS, PRODUCT_OR_NONE, EMOTIONS, PRICING_SLOTS, OTHER_SLOTS).


@dataclass
class Understanding:
    intent: Intent = Intent.OTHER
    product: str = NO_PRODUCT  # a Product value, or NO_PRODUCT when the message names none
    emotion: Emotion = Emotion.NEUTRAL
    slots: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.0  # 0..1, how sure understanding is of the intent (= field_confidence["intent"])
    # 0..1 per field ("intent", "product", "emotion"): calibrated on cross-validation (pipelines/understand/learned.py)
    field_confidence: dict[str, float] = field(default_factory=dict)
    language: Literal["ru", "en"] = "ru"  # "en": the client wrote in English only (pipelines/dialog answers in kind)
    source: Literal["offline", "llm"] = "offline"

    def as_dict(self) -> dict[str, Any]:
        """The shape `voronka analyze --jsonl` prints: only found slots, ints as ints."""
        return {"intent": self.intent, "product": self.product, "emotion": self.emotion, "slots": dict(self.slots)}
