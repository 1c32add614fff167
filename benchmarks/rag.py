"""RAG figures with the offline embedder: ingest throughput (embed + COPY, chunks/s) and search latency p50/p95
(hybrid, vector, full text) at 10 k and 100 k synthetic chunks.

Synthetic chunks are 2–4 random sentences of the shipped knowledge base under a random heading, so the words,
lengths and full-text statistics look like the real thing. Rows go in with COPY into ``kb_chunks`` (the per-embedder
HNSW index and the GIN index are maintained during the load, as in a real ingest).

Uses its own embedded PostgreSQL in a temp dir unless DATABASE_URL is set (then it writes to the collection
"rag_bench" and deletes it afterwards). Target: hybrid search p95 <= 50 ms at 100 k chunks.

Dimension: the offline embedder uses 384 dimensions — enough buckets for the signed feature hashing of a
knowledge base's vocabulary, and small enough that HNSW (m = 16, ef_search = 100) stays fast at 100 k rows.

    python benchmarks/rag.py [--sizes 10000,100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())

COLLECTION = "rag_bench"
DOC_TYPES = ("service", "usp", "case", "faq", "price", "policy", "script")


def _corpus() -> tuple[list[str], list[str]]:
    """Sentences and headings of the shipped knowledge base."""
    from razdel import sentenize

    from pipelines.knowledge.chunker import chunk_document, doc_type_for
    from pipelines.knowledge.parsers import SUPPORTED_SUFFIXES, parse_file

    sentences: list[str] = []
    headings: list[str] = []
    kb = ROOT / "knowledge_base"
    for path in sorted(kb.rglob("*")):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        rel = path.relative_to(kb).as_posix()
        for chunk in chunk_document(parse_file(path), doc_type_for(rel)):
            headings.append(chunk.heading)
            sentences.extend(s.text for s in sentenize(chunk.text.replace("\n", " ")) if len(s.text) > 20)
    return sentences, headings


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")

    import psycopg
    import sqlalchemy as sa
    from sqlmodel import Session

    from db.engine import make_engine, normalise_url
    from db.migrate import upgrade
    from pipelines.knowledge.embedders import OfflineEmbedder
    from pipelines.knowledge.evaluate import load_questions
    from pipelines.knowledge.search import Mode, forget_vocabulary, search
    from pipelines.knowledge.vector_index import ensure_vector_index

    rng = random.Random(args.seed)
    sentences, headings = _corpus()
    queries = [q["q"] for q in load_questions(ROOT / "tests" / "data" / "kb_questions.jsonl")]
    embedder = OfflineEmbedder()

    tmp = tempfile.TemporaryDirectory(prefix="rag-bench-")
    embedded = None
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        from db.embedded import EmbeddedServices

        embedded = EmbeddedServices(Path(tmp.name), redis_persist=False)
        embedded.start()
        url = embedded.database_url
    try:
        upgrade(url)
        engine = make_engine(url)
        pg_url = normalise_url(url).replace("postgresql+psycopg://", "postgresql://")
        with Session(engine) as session:
            ensure_vector_index(session, embedder)
            session.execute(sa.text("DELETE FROM kb_documents WHERE collection = :c"), {"c": COLLECTION})
            doc_ids = []
            now = datetime.now(UTC)
            for i in range(200):
                doc_ids.append(session.execute(sa.text(
                    "INSERT INTO kb_documents (collection, source, title, doc_type, sha256, version, status, "
                    "chunk_count, created_at, updated_at) VALUES (:c, :s, :t, :d, :h, 1, 'active', 0, :n, :n) "
                    "RETURNING id"), {"c": COLLECTION, "s": f"{COLLECTION}/doc{i}.md", "t": f"Документ {i}",
                                      "d": DOC_TYPES[i % len(DOC_TYPES)], "h": f"{i:064x}", "n": now}).scalar_one())
            session.commit()

        print(f"embedder: {embedder.name}, {embedder.dim} dims; corpus: {len(sentences)} sentences")
        loaded = 0
        for size in sizes:
            count = size - loaded
            texts = [" ".join(rng.sample(sentences, rng.randint(2, 4))) for _ in range(count)]
            heads = [rng.choice(headings) for _ in range(count)]
            docs = [rng.randrange(len(doc_ids)) for _ in range(count)]
            t0 = time.perf_counter()
            vectors = [embedder.vector(f"{h}\n{t}") for h, t in zip(heads, texts, strict=True)]
            t_embed = time.perf_counter() - t0
            t1 = time.perf_counter()
            with psycopg.connect(pg_url) as pg, pg.cursor() as cur:
                with cur.copy("COPY kb_chunks (document_id, version, ordinal, collection, doc_type, heading, text, "
                              "embedding, embedder, embedding_dim, active, created_at) FROM STDIN") as copy:
                    for i in range(count):
                        d = docs[i]
                        vec = "[" + ",".join(f"{x:.6g}" for x in vectors[i]) + "]"
                        copy.write_row((doc_ids[d], 1, loaded + i, COLLECTION, DOC_TYPES[d % len(DOC_TYPES)],
                                        heads[i], texts[i], vec, embedder.name, embedder.dim, True, now))
                pg.commit()
            t_copy = time.perf_counter() - t1
            loaded = size
            with engine.begin() as conn:
                conn.execute(sa.text("ANALYZE kb_chunks"))
            print(f"\n== {size:,} chunks (+{count:,}) ==")
            print(f"ingest: embed {count / t_embed:,.0f} chunks/s, COPY+index {count / t_copy:,.0f} chunks/s, "
                  f"overall {count / (t_embed + t_copy):,.0f} chunks/s")

            forget_vocabulary()
            with Session(engine) as session:
                t2 = time.perf_counter()
                search(session, "прогрев", embedder=embedder, collection=COLLECTION)  # loads the vocabulary
                print(f"first search (loads the index vocabulary): {(time.perf_counter() - t2) * 1000:.0f} ms")
                picked = [rng.choice(queries) for _ in range(args.queries)]
                modes: tuple[Mode, ...] = ("hybrid", "vector", "fts")
                for mode in modes:
                    timings = []
                    for q in picked:
                        t = time.perf_counter()
                        search(session, q, embedder=embedder, collection=COLLECTION, mode=mode)
                        timings.append((time.perf_counter() - t) * 1000)
                        session.rollback()
                    print(f"search {mode:<6}: p50 {statistics.median(timings):6.1f} ms, "
                          f"p95 {_percentile(timings, 95):6.1f} ms, max {max(timings):6.1f} ms")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM kb_documents WHERE collection = :c"), {"c": COLLECTION})
        engine.dispose()
    finally:
        if embedded is not None:
            embedded.stop()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
