"""Knowledge-base retrieval quality: recall@1 / recall@3 of vector, FTS and hybrid search on question sets over the
shipped knowledge_base/, with the offline embedder. Default: the labelled set (tests/data/kb_questions.jsonl, the
lexicon was tuned on it); ``--holdout`` adds the held-out sets (kb_questions_holdout*.jsonl).

Uses DATABASE_URL when set (a scratch collection "kb_recall_bench", deleted afterwards), else starts an embedded
PostgreSQL in a temp dir. ``--misses`` lists what was missed.

    python benchmarks/kb_recall.py [--misses] [--holdout] [--questions FILE ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="print the questions missed at 3")
    parser.add_argument("--questions", type=Path, nargs="+", default=[ROOT / "tests" / "data" / "kb_questions.jsonl"])
    parser.add_argument("--holdout", action="store_true", help="also tests/data/kb_questions_holdout*")
    args = parser.parse_args()

    import sqlalchemy as sa
    from loguru import logger
    from sqlmodel import Session

    from db.engine import make_engine
    from db.migrate import upgrade
    from pipelines.knowledge.embedders import OfflineEmbedder
    from pipelines.knowledge.evaluate import evaluate, load_questions
    from pipelines.knowledge.ingest import ingest_path

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    embedded = None
    url = os.environ.get("DATABASE_URL", "")
    tmp = tempfile.TemporaryDirectory(prefix="kb-recall-")
    if not url:
        from db.embedded import EmbeddedServices

        embedded = EmbeddedServices(Path(tmp.name), redis_persist=False)
        embedded.start()
        url = embedded.database_url
    try:
        upgrade(url)
        engine = make_engine(url)
        embedder = OfflineEmbedder()
        files = list(args.questions)
        if args.holdout:
            files += sorted((ROOT / "tests" / "data").glob("kb_questions_holdout*.jsonl"))
        reports = []
        with Session(engine) as session:
            ingest_path(session, ROOT / "knowledge_base", collection="kb_recall_bench", embedder=embedder)
            for file in files:
                questions = load_questions(file)
                results = evaluate(session, questions, embedder=embedder, collection="kb_recall_bench")
                by_kind: dict[str, list[dict[str, str]]] = defaultdict(list)
                for q in questions:
                    by_kind[q["kind"] or "-"].append(q)
                kind_results = {kind: evaluate(session, qs, embedder=embedder, collection="kb_recall_bench",
                                               modes=("hybrid",))["hybrid"] for kind, qs in sorted(by_kind.items())}
                reports.append((file, len(questions), results, kind_results))
            session.execute(sa.text("DELETE FROM kb_documents WHERE collection = 'kb_recall_bench'"))
            session.commit()
        engine.dispose()
    finally:
        if embedded is not None:
            embedded.stop()
        tmp.cleanup()

    for file, count, results, kind_results in reports:
        print(f"== {file.name}: {count} questions, embedder: {embedder.name} ({embedder.dim} dims)")
        print(f"{'mode':<8} {'recall@1':>9} {'recall@3':>9}")
        for mode, rec in results.items():
            print(f"{mode:<8} {rec.recall1:>9.3f} {rec.recall3:>9.3f}")
        print("hybrid by question kind:")
        for kind, rec in kind_results.items():
            print(f"  {kind:<11} n={rec.total:<3} recall@1={rec.recall1:.3f} recall@3={rec.recall3:.3f}")
        if args.misses:
            for mode, rec in results.items():
                for question, expected, got in rec.misses:
                    print(f"[{mode}] {question!r}: want {expected}, got {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
