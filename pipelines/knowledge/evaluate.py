"""Retrieval quality on a question set: recall@1 and recall@3 per search mode (document level).

A question is ``{"q": "...", "source": "<collection>/<path>"}``; it is recalled at k when its path is among the
first k hits (one hit per document); the collection part is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from pipelines.knowledge.embedders import Embedder
from pipelines.knowledge.search import Mode, search

MODES: tuple[Mode, ...] = ("vector", "fts", "hybrid")


@dataclass
class Recall:
    mode: str
    total: int = 0
    at1: int = 0
    at3: int = 0
    misses: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (question, expected, got top 3)

    @property
    def recall1(self) -> float:
        return self.at1 / self.total if self.total else 0.0

    @property
    def recall3(self) -> float:
        return self.at3 / self.total if self.total else 0.0


def _path(source: str) -> str:
    """The path inside the collection: questions name "knowledge_base/faq/x.md" whatever the collection is."""
    return source.split("/", 1)[1] if "/" in source else source


def load_questions(path: Path) -> list[dict[str, str]]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            items.append({"q": str(item["q"]), "source": str(item["source"]), "kind": str(item.get("kind", ""))})
    return items


def evaluate(session: Session, questions: Sequence[dict[str, str]], *, embedder: Embedder,
             collection: str | None = None, modes: Sequence[Mode] = MODES) -> dict[str, Recall]:
    results: dict[str, Recall] = {mode: Recall(mode) for mode in modes}
    for item in questions:
        for mode in modes:
            hits = search(session, item["q"], top_k=3, collection=collection, mode=mode, embedder=embedder)
            got = [_path(h.source) for h in hits]
            want = _path(item["source"])
            rec = results[mode]
            rec.total += 1
            if got[:1] == [want]:
                rec.at1 += 1
            if want in got[:3]:
                rec.at3 += 1
            else:
                rec.misses.append((item["q"], item["source"], got))
    return results
