"""Hybrid search over the knowledge base: pgvector HNSW cosine + Postgres full text (``russian``), merged by
reciprocal rank fusion (k = 60), filtered by collection and document type, one hit per document.

Full text first tries ``websearch_to_tsquery`` (all words must match); when that finds nothing it falls back to an
OR-query of the query's words and their lemmas, so a long colloquial question still finds its topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session

from pipelines.knowledge.cache import SearchCache
from pipelines.knowledge.embedders import Embedder
from pipelines.knowledge.text import STOPWORDS, lemma, normalise, words
from pipelines.knowledge.vector_index import checked, vector_predicate

Mode = Literal["hybrid", "vector", "fts"]
RRF_K = 60
EF_SEARCH = 100


@dataclass(frozen=True)
class Hit:
    source: str
    title: str
    score: float
    text: str
    heading: str
    doc_type: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Ranked:
    chunk_id: int
    document_id: int
    score: float


def _filters(collection: str | None, doc_types: Sequence[str] | None, params: dict[str, Any]) -> str:
    sql = ""
    if collection is not None:
        sql += " AND c.collection = :collection"
        params["collection"] = collection
    if doc_types:
        sql += " AND c.doc_type = ANY(:doc_types)"
        params["doc_types"] = list(doc_types)
    return sql


def vector_candidates(session: Session, query: str, *, embedder: Embedder, limit: int,
                      collection: str | None = None, doc_types: Sequence[str] | None = None) -> list[_Ranked]:
    _, dim = checked(embedder)
    vec = embedder.embed([query])[0]
    params: dict[str, Any] = {"q": "[" + ",".join(f"{x:.7g}" for x in vec) + "]", "n": limit}
    expr = f"c.embedding::vector({dim})"  # the expression of the embedder's partial HNSW index
    where = vector_predicate(embedder, "c") + _filters(collection, doc_types, params)
    session.execute(sa.text("SELECT set_config('hnsw.ef_search', :ef, true), "
                            "set_config('hnsw.iterative_scan', 'relaxed_order', true)"),
                    {"ef": str(max(EF_SEARCH, limit))})
    rows = session.execute(sa.text(
        f"SELECT c.id, c.document_id, ({expr} <=> CAST(:q AS vector({dim}))) AS dist FROM kb_chunks c "
        f"WHERE {where} ORDER BY ({expr}) <=> CAST(:q AS vector({dim})) LIMIT :n"), params).all()
    ranked = sorted(rows, key=lambda r: (r.dist, r.id))  # relaxed order: re-sort the few rows we got
    return [_Ranked(r.id, r.document_id, 1.0 - float(r.dist)) for r in ranked]


def _or_query(query: str) -> str:
    terms: list[str] = []
    for word in words(query):
        for part in word.split("-") + ([word] if "-" in word else []):
            lem = lemma(part)
            for term in (part, lem):
                clean = "".join(ch for ch in term if ch.isalnum())
                if len(clean) > 1 and clean not in STOPWORDS and clean not in terms:
                    terms.append(clean)
    return " | ".join(terms)


def fts_candidates(session: Session, query: str, *, limit: int, collection: str | None = None,
                   doc_types: Sequence[str] | None = None) -> list[_Ranked]:
    params: dict[str, Any] = {"q": query, "n": limit}
    filters = _filters(collection, doc_types, params)
    template = ("SELECT c.id, c.document_id, ts_rank(c.tsv, q) AS rank FROM kb_chunks c, {tsq} AS q "
                "WHERE c.active AND c.tsv @@ q" + filters + " ORDER BY rank DESC, c.id LIMIT :n")
    rows = session.execute(sa.text(template.format(tsq="websearch_to_tsquery('russian', :q)")), params).all()
    if not rows:
        or_query = _or_query(query)
        if not or_query:
            return []
        params["q"] = or_query
        rows = session.execute(sa.text(template.format(tsq="to_tsquery('russian', :q)")), params).all()
    return [_Ranked(r.id, r.document_id, float(r.rank)) for r in rows]


def fuse(*lists: list[_Ranked], k: int = RRF_K) -> list[_Ranked]:
    """Reciprocal rank fusion of ranked chunk lists."""
    scores: dict[int, float] = {}
    docs: dict[int, int] = {}
    for ranked in lists:
        for rank, item in enumerate(ranked, start=1):
            scores[item.chunk_id] = scores.get(item.chunk_id, 0.0) + 1.0 / (k + rank)
            docs[item.chunk_id] = item.document_id
    return [_Ranked(cid, docs[cid], score) for cid, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def _hits(session: Session, ranked: list[_Ranked], top_k: int, per_document: bool) -> list[Hit]:
    chosen: list[_Ranked] = []
    seen_docs: set[int] = set()
    for item in ranked:
        if per_document and item.document_id in seen_docs:
            continue
        seen_docs.add(item.document_id)
        chosen.append(item)
        if len(chosen) >= top_k:
            break
    if not chosen:
        return []
    rows = session.execute(sa.text(
        "SELECT c.id, c.heading, c.text, d.source, d.title, d.doc_type FROM kb_chunks c "
        "JOIN kb_documents d ON d.id = c.document_id WHERE c.id = ANY(:ids)"),
        {"ids": [c.chunk_id for c in chosen]}).all()
    by_id = {r.id: r for r in rows}
    return [Hit(source=by_id[c.chunk_id].source, title=by_id[c.chunk_id].title, score=round(c.score, 6),
                text=by_id[c.chunk_id].text, heading=by_id[c.chunk_id].heading,
                doc_type=by_id[c.chunk_id].doc_type) for c in chosen if c.chunk_id in by_id]


def search(session: Session, query: str, *, top_k: int = 5, collection: str | None = None,
           doc_types: Sequence[str] | None = None, mode: Mode = "hybrid", embedder: Embedder,
           cache: SearchCache | None = None, per_document: bool = True) -> list[Hit]:
    """The ``top_k`` best hits for ``query`` (one per document unless ``per_document`` is False)."""
    if mode not in ("hybrid", "vector", "fts"):
        raise ValueError(f"unknown search mode {mode!r}")
    query = normalise(query)
    if not query or top_k <= 0:
        return []
    key = None
    if cache is not None:
        key = cache.key({"q": query, "k": top_k, "c": collection, "t": sorted(doc_types or []), "m": mode,
                         "e": embedder.name, "d": per_document})
        cached = cache.get(key)
        if cached is not None:
            return [Hit(**h) for h in cached]
    limit = max(50, top_k * 10)
    lists: list[list[_Ranked]] = []
    if mode in ("hybrid", "vector"):
        lists.append(vector_candidates(session, query, embedder=embedder, limit=limit, collection=collection,
                                       doc_types=doc_types))
    if mode in ("hybrid", "fts"):
        lists.append(fts_candidates(session, query, limit=limit, collection=collection, doc_types=doc_types))
    ranked = fuse(*lists) if mode == "hybrid" else lists[0]
    hits = _hits(session, ranked, top_k, per_document)
    if cache is not None and key is not None:
        cache.put(key, [h.as_dict() for h in hits])
    return hits
