"""Retrieval quality on the shipped knowledge base with the offline embedder: hybrid recall@3 of the labelled
question set (the lexicon was tuned on it) and softer floors on the held-out sets (written without looking at the
lexicon; see benchmarks/kb_recall.py for the figures)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from pipelines.knowledge.embedders import OfflineEmbedder
from pipelines.knowledge.evaluate import evaluate, load_questions
from pipelines.knowledge.ingest import ingest_path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
# (file, minimum number of questions, recall@3 floor). Measured after round 2: labelled 0.988, held-out 0.816
# (round-2 synonyms were added from its misses), second held-out 0.833 (written after the tuning, never tuned on).
QUESTION_SETS = [
    ("kb_questions.jsonl", 60, 0.97),
    ("kb_questions_holdout.jsonl", 50, 0.78),
    ("kb_questions_holdout2.jsonl", 40, 0.78),
]


@pytest.mark.parametrize(("name", "minimum", "_floor"), QUESTION_SETS)
def test_question_set_covers_the_knowledge_base(name: str, minimum: int, _floor: float) -> None:
    questions = load_questions(DATA / name)
    assert len(questions) >= minimum
    for q in questions:
        assert (ROOT / q["source"]).is_file(), q["source"]
    kinds = {q["kind"] for q in questions}
    assert {"paraphrase", "colloquial"} <= kinds
    assert kinds & {"typo", "short"}


@pytest.mark.parametrize(("name", "_minimum", "floor"), QUESTION_SETS)
def test_hybrid_recall_at_3(db: Session, name: str, _minimum: int, floor: float) -> None:
    embedder = OfflineEmbedder()
    ingest_path(db, ROOT / "knowledge_base", embedder=embedder)
    questions = load_questions(DATA / name)
    result = evaluate(db, questions, embedder=embedder, modes=("hybrid",))["hybrid"]
    assert result.recall3 >= floor, f"{name}: recall@3 {result.recall3:.3f} < {floor}; missed: {result.misses}"
