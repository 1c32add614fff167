"""Retrieval quality on the shipped knowledge base: hybrid recall@3 of the question set, offline embedder."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from pipelines.knowledge.embedders import OfflineEmbedder
from pipelines.knowledge.evaluate import evaluate, load_questions
from pipelines.knowledge.ingest import ingest_path

ROOT = Path(__file__).resolve().parents[2]


def test_question_set_covers_the_knowledge_base() -> None:
    questions = load_questions(ROOT / "tests" / "data" / "kb_questions.jsonl")
    assert len(questions) >= 60
    for q in questions:
        assert (ROOT / q["source"]).is_file(), q["source"]
    kinds = {q["kind"] for q in questions}
    assert {"paraphrase", "colloquial", "typo"} <= kinds


def test_hybrid_recall_at_3_on_the_question_set(db: Session) -> None:
    embedder = OfflineEmbedder()
    ingest_path(db, ROOT / "knowledge_base", embedder=embedder)
    questions = load_questions(ROOT / "tests" / "data" / "kb_questions.jsonl")
    result = evaluate(db, questions, embedder=embedder, modes=("hybrid",))["hybrid"]
    assert result.recall3 >= 0.95, f"recall@3 {result.recall3:.3f}; missed: {result.misses}"
