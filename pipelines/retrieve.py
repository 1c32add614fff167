"""The retrieve stage: knowledge-base chunks for questions about services, cases, prices, security, objections."""

from __future__ import annotations

from loguru import logger
from sqlmodel import Session

from pipelines.dialog.types import Knowledge
from pipelines.knowledge.cache import SearchCache
from pipelines.knowledge.search import search
from pipelines.runtime import Runtime
from pipelines.understand.types import Understanding
from voronka.vocabulary import KNOWLEDGE_INTENTS

DOC_TYPES_BY_INTENT = {"objection": ["script", "case", "usp", "faq"], "faq": ["faq", "policy", "usp", "service"],
                       "product_info": ["service", "usp", "case", "faq"]}


def retrieve(deps: Runtime, session: Session, understanding: Understanding, text: str,
             *, top_k: int = 3) -> list[Knowledge]:
    """Best chunks for the question, or [] when the intent needs none. A failing search degrades to [] (logged):
    it runs in a savepoint so the conversation's transaction stays usable."""
    if understanding.intent not in KNOWLEDGE_INTENTS or not text.strip():
        return []
    try:
        with session.begin_nested():
            cache = SearchCache(deps.redis) if deps.redis is not None else None
            hits = search(session, text, top_k=top_k, doc_types=DOC_TYPES_BY_INTENT[understanding.intent],
                          embedder=deps.embedder, cache=cache)
    except Exception:
        logger.exception("knowledge search failed; answering from built-in texts")
        return []
    return [Knowledge(title=h.title, text=h.text, source=h.source, doc_type=h.doc_type) for h in hits]
