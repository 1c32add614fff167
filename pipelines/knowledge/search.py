"""Hybrid search over the knowledge base: pgvector HNSW cosine + Postgres full text (``russian``), merged by
reciprocal rank fusion (k = 60), filtered by collection and document type, one hit per document.

Full text first tries ``websearch_to_tsquery`` (all words must match); when that finds nothing it falls back to an
OR-query of the query's words and their lemmas, so a long colloquial question still finds its topic. The fallback
also gets the single-word synonyms of the query's lexicon concepts (at half weight), a misspelt word's nearest
indexed lexeme, and a word written in the other script («линукс» → «linux», via ``text.phonetic``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlmodel import Session

from pipelines.knowledge.cache import SearchCache
from pipelines.knowledge.embedders import Embedder
from pipelines.knowledge.lexicon import synonyms_of
from pipelines.knowledge.text import is_known, lemma, normalise, phonetic, words
from pipelines.knowledge.vector_index import checked, vector_predicate

Mode = Literal["hybrid", "vector", "fts"]
RRF_K = 60
# The OR fallback is a weaker signal than an all-words match; with synonym expansion (EXPANSION_WEIGHT) it ranks
# about as well as the vector search, so it weighs nearly as much (0.35 before the expansion; measured with
# benchmarks/kb_recall.py on both question sets).
FALLBACK_WEIGHT = 0.8
EXPANSION_WEIGHT = 0.5  # a synonym from the lexicon counts half as much as a word of the query
MAX_EXPANSION_TERMS = 32
EF_SEARCH = 100
# Full text ranks at most this many matching chunks per query: a bound on latency for huge collections where a
# common word matches tens of thousands of rows (a knowledge base of a few thousand chunks never reaches it).
FTS_SCAN_LIMIT = 3000


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
    weights, corrections = _analyse_query(session, query)
    text = " ".join([query, *corrections])
    embed_query = getattr(embedder, "embed_query", None)  # the offline embedder weighs query words by IDF
    vec = embed_query(text, weights) if embed_query is not None else embedder.embed([text])[0]
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


@dataclass
class _Vocabulary:
    ndoc: dict[str, int]  # lexeme -> number of active chunks containing it
    total: int  # active chunks
    loaded_at: float
    by_sound: dict[str, str] = field(default_factory=dict)  # phonetic spelling -> most frequent lexeme

    def __post_init__(self) -> None:
        for lex, _ in sorted(self.ndoc.items(), key=lambda kv: (-kv[1], kv[0])):
            self.by_sound.setdefault(phonetic(lex), lex)


_VOCABULARY: dict[str, _Vocabulary] = {}
VOCABULARY_TTL_SECONDS = 300.0


def forget_vocabulary() -> None:
    """Drop the cached index vocabulary (ingest calls this; other processes reload within the TTL)."""
    _VOCABULARY.clear()


def _vocabulary(session: Session) -> _Vocabulary:
    key = str(session.get_bind().engine.url)
    vocab = _VOCABULARY.get(key)
    if vocab is None or time.monotonic() - vocab.loaded_at > VOCABULARY_TTL_SECONDS:
        rows = session.execute(sa.text(
            "SELECT word, ndoc FROM ts_stat('SELECT tsv FROM kb_chunks WHERE active')")).all()
        total = session.execute(sa.text("SELECT count(*) FROM kb_chunks WHERE active")).scalar_one()
        vocab = _Vocabulary({r.word: int(r.ndoc) for r in rows}, int(total), time.monotonic())
        _VOCABULARY[key] = vocab
    return vocab


def _analyse_query(session: Session, query: str) -> tuple[dict[str, float], list[str]]:
    """(folded query word -> IDF of its stem among the active chunks, corrections): a word the dictionary does
    not know and the index does not contain («аналитег») is corrected to the nearest indexed stem («аналитик»)."""
    vocab = _vocabulary(session)
    toks = sorted(set(words(query)))
    if not toks or not vocab.total:
        return {}, []
    rows = session.execute(sa.text(
        "SELECT w, (ts_lexize('russian_stem', w))[1] AS stem FROM unnest(CAST(:ws AS text[])) AS w"),
        {"ws": toks}).all()
    weights: dict[str, float] = {}
    corrections: list[str] = []
    for row in rows:
        stem = row.stem or row.w
        ndoc = vocab.ndoc.get(stem, 0)
        if not ndoc and not is_known(row.w):
            fixed = _closest(stem, vocab)
            if fixed is not None and fixed not in corrections:
                corrections.append(fixed)
                weights[fixed] = _idf(vocab.ndoc[fixed], vocab.total)
        weights[row.w] = _idf(ndoc, vocab.total)
    return weights, corrections


def _idf(ndoc: int, total: int) -> float:
    return math.log(1.0 + (total - ndoc + 0.5) / (ndoc + 0.5))


def _query_lexemes(session: Session, query: str) -> list[str]:
    """Stemmed lexemes of the query words and of their lemmas (``russian`` config, stop words dropped)."""
    extra = " ".join(lemma(w) for w in words(query))
    rows = session.execute(sa.text("SELECT unnest(tsvector_to_array(to_tsvector('russian', :q)))"),
                           {"q": f"{query} {extra}"}).scalars().all()
    return [str(r) for r in rows]


def _closest(lexeme: str, vocab: _Vocabulary) -> str | None:
    """The indexed lexeme nearest to a misspelt one (same first letter, similar enough) or spelt in the other
    script («линукс» → «linux»), or None."""
    same_sound = vocab.by_sound.get(phonetic(lexeme))
    if same_sound is not None:
        return same_sound
    if len(lexeme) < 4 or not lexeme.isalpha():
        return None
    choices = [w for w in vocab.ndoc if w[:1] == lexeme[:1] and abs(len(w) - len(lexeme)) <= 2]
    found = process.extractOne(lexeme, choices, scorer=fuzz.ratio, score_cutoff=75)
    return str(found[0]) if found else None


def _fallback_terms(session: Session, query: str) -> dict[str, float]:
    """Lexeme -> weight (inverse document frequency) for the OR fallback; misspelt words are corrected to the
    nearest indexed lexeme."""
    vocab = _vocabulary(session)
    terms: dict[str, float] = {}
    for lex in _query_lexemes(session, query):
        if lex not in vocab.ndoc:
            fixed = _closest(lex, vocab)
            if fixed is None:
                continue
            lex = fixed
        terms[lex] = _idf(vocab.ndoc[lex], vocab.total)
    if EXPANSION_WEIGHT > 0:
        extra = {lex: EXPANSION_WEIGHT * _idf(vocab.ndoc[lex], vocab.total)
                 for lex in _expansion_lexemes(session, query) if lex in vocab.ndoc and lex not in terms}
        # the most specific synonyms only: each term costs two tsquery matches per scanned chunk
        for lex, weight in sorted(extra.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_EXPANSION_TERMS]:
            terms[lex] = weight
    return terms


def _expansion_lexemes(session: Session, query: str) -> list[str]:
    """Stemmed lexemes of the single-word synonyms of the query's lexicon concepts («бэкап» → «резервный»,
    «копия»): the full text then meets a paraphrase that shares no word with the answer."""
    members = synonyms_of([lemma(w) for w in words(query)])
    if not members:
        return []
    rows = session.execute(sa.text("SELECT unnest(tsvector_to_array(to_tsvector('russian', :q)))"),
                           {"q": " ".join(members)}).scalars().all()
    return [str(r) for r in rows]


def _tsquery_literal(lexemes: Sequence[str], weight: str = "") -> str:
    return " | ".join("'" + lex.replace("'", "''") + "'" + (f":{weight}" if weight else "") for lex in lexemes)


def fts_candidates(session: Session, query: str, *, limit: int, collection: str | None = None,
                   doc_types: Sequence[str] | None = None) -> tuple[list[_Ranked], bool]:
    """Full-text candidates and whether they came from the all-words query (True) or the OR fallback."""
    params: dict[str, Any] = {"q": query, "n": limit}
    filters = _filters(collection, doc_types, params)
    params["scan"] = FTS_SCAN_LIMIT
    rows = session.execute(sa.text(
        "SELECT c.id, c.document_id, ts_rank(c.tsv, q) AS rank FROM websearch_to_tsquery('russian', :q) AS q, "
        "LATERAL (SELECT c.id, c.document_id, c.tsv FROM kb_chunks c WHERE c.active AND c.tsv @@ q" + filters
        + " LIMIT :scan) AS c ORDER BY rank DESC, c.id LIMIT :n"), params).all()
    if rows:
        return [_Ranked(r.id, r.document_id, float(r.rank)) for r in rows], True
    terms = _fallback_terms(session, query)
    if not terms:
        return [], False
    # BM25-like: the sum of the matched terms' IDF, half as much again when the term is in the heading.
    score_parts = []
    for i, (lex, idf) in enumerate(terms.items()):
        params[f"t{i}"], params[f"h{i}"], params[f"w{i}"] = _tsquery_literal([lex]), _tsquery_literal([lex], "A"), idf
        score_parts.append(f"(CASE WHEN c.tsv @@ CAST(:t{i} AS tsquery) THEN :w{i} ELSE 0 END)"
                           f" + (CASE WHEN c.tsv @@ CAST(:h{i} AS tsquery) THEN 0.5 * :w{i} ELSE 0 END)")
    params["any"] = _tsquery_literal(list(terms))
    rows = session.execute(sa.text(
        "SELECT c.id, c.document_id, (" + " + ".join(score_parts) + ") AS score FROM (SELECT c.id, c.document_id, "
        "c.tsv FROM kb_chunks c WHERE c.active AND c.tsv @@ CAST(:any AS tsquery)" + filters + " LIMIT :scan) AS c "
        "ORDER BY score DESC, c.id LIMIT :n"), params).all()
    return [_Ranked(r.id, r.document_id, float(r.score)) for r in rows], False


def fuse(*lists: list[_Ranked], k: int = RRF_K, weights: Sequence[float] | None = None) -> list[_Ranked]:
    """Reciprocal rank fusion of ranked chunk lists (optionally weighted per list)."""
    scores: dict[int, float] = {}
    docs: dict[int, int] = {}
    for index, ranked in enumerate(lists):
        weight = weights[index] if weights else 1.0
        for rank, item in enumerate(ranked, start=1):
            scores[item.chunk_id] = scores.get(item.chunk_id, 0.0) + weight / (k + rank)
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
    weights: list[float] = []
    if mode in ("hybrid", "vector"):
        lists.append(vector_candidates(session, query, embedder=embedder, limit=limit, collection=collection,
                                       doc_types=doc_types))
        weights.append(1.0)
    if mode in ("hybrid", "fts"):
        fts, all_words = fts_candidates(session, query, limit=limit, collection=collection, doc_types=doc_types)
        lists.append(fts)
        weights.append(1.0 if all_words else FALLBACK_WEIGHT)
    ranked = fuse(*lists, weights=weights) if mode == "hybrid" else lists[0]
    hits = _hits(session, ranked, top_k, per_document)
    if cache is not None and key is not None:
        cache.put(key, [h.as_dict() for h in hits])
    return hits
