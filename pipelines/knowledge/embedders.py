"""Embedders: one interface, an offline default and OpenAI ``text-embedding-3-small``.

The offline embedder needs no network and no model files. A text becomes three groups of hashed features:

- lemmas of its content words (pymorphy3) — «стоимости», «стоимость» are one feature;
- concepts of the domain lexicon (``lexicon.CONCEPTS``) — «сколько стоит» and «цена» share the ``price`` concept;
- character 3- and 4-grams of every word — a typo («стоимост», «интергация») still shares most of its n-grams.

Lemmas and n-grams are taken of the word's script-independent spelling (``text.phonetic``), so «гигачат» meets
«GigaChat» and «линукс» meets «Linux».

Each group is L2-normalised on its own, weighted, summed and projected by signed feature hashing into ``dim``
dimensions, then L2-normalised again (cosine = dot product). The result is deterministic across processes and
machines (blake2b, not Python's salted ``hash``).

Dimension: 384 by default. The knowledge base is a few hundred chunks; 384 signed-hash buckets keep collisions low
for that vocabulary while HNSW at 100 k chunks stays well inside 50 ms per search (see ``benchmarks/rag.py``).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from pipelines.knowledge.lexicon import concepts_of
from pipelines.knowledge.text import STOPWORDS, lemma, phonetic, words
from voronka.asyncbridge import AsyncBridge, shared_bridge

if TYPE_CHECKING:
    from voronka.settings import Settings

OFFLINE_NAME = "offline-hash-v2"  # v2: script-independent lemma and n-gram features, broader lexicon
OFFLINE_DIM = 384
OPENAI_NAME = "openai-text-embedding-3-small"
OPENAI_DIM = 1536


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of a fixed dimension; ``name`` identifies the vector space."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


@lru_cache(maxsize=500_000)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


@lru_cache(maxsize=200_000)
def _ngrams(word: str) -> tuple[str, ...]:
    """Character 3- and 4-grams of the word's script-independent spelling (``text.phonetic``)."""
    padded = f"#{phonetic(word)}#"
    grams: list[str] = []
    for n in (3, 4):
        grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return tuple(grams) or (padded,)


class OfflineEmbedder:
    """Hashed lemma + concept + character n-gram features; deterministic, no network."""

    LEMMA_WEIGHT = 1.0
    CONCEPT_WEIGHT = 1.2
    NGRAM_WEIGHT = 0.7
    # ingest adds the heading path's own vector × this weight to each chunk's vector (see ingest._chunk_vectors):
    # the title and section name say what a chunk is about better than its body does.
    heading_weight = 0.7

    def __init__(self, dim: int = OFFLINE_DIM) -> None:
        if dim < 32:
            raise ValueError("dim must be at least 32")
        self.dim = dim
        self.name = OFFLINE_NAME if dim == OFFLINE_DIM else f"{OFFLINE_NAME}-d{dim}"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(text).tolist() for text in texts]

    def embed_query(self, text: str, word_weights: Mapping[str, float]) -> list[float]:
        """A query vector whose words count by ``word_weights`` (folded word -> weight, e.g. the inverse
        document frequency in the index): «ии», present everywhere, then weighs less than «стоматология»."""
        return self.vector(text, word_weights).tolist()

    def vector(self, text: str, word_weights: Mapping[str, float] | None = None) -> np.ndarray:
        toks = words(text)
        all_lemmas = [lemma(t) for t in toks]
        lemma_counts: defaultdict[str, float] = defaultdict(float)
        gram_counts: defaultdict[str, float] = defaultdict(float)
        for tok, lem in zip(toks, all_lemmas, strict=True):
            if lem in STOPWORDS or tok in STOPWORDS or len(lem) < 2 or tok.replace("-", "").isdigit():
                continue
            weight = word_weights.get(tok, 1.0) if word_weights is not None else 1.0
            parts = tok.split("-") if "-" in tok else []
            lemma_counts[phonetic(lem)] += weight  # «астра» and «Astra» are one feature
            for part in parts:  # «ии-менеджер» also counts as «ии» and «менеджер»
                if len(part) > 1 and not part.isdigit():
                    lemma_counts[phonetic(lemma(part))] += 0.5 * weight
            grams = _ngrams(tok)
            share = weight / math.sqrt(len(grams))
            for g in grams:
                gram_counts[g] += share
        concept_counts = Counter(concepts_of(all_lemmas))
        out = np.zeros(self.dim, dtype=np.float64)
        for prefix, counts, group_weight in (("w:", lemma_counts, self.LEMMA_WEIGHT),
                                             ("c:", concept_counts, self.CONCEPT_WEIGHT),
                                             ("g:", gram_counts, self.NGRAM_WEIGHT)):
            if counts:
                self._add(out, prefix, counts, group_weight)
        norm = float(np.linalg.norm(out))
        if norm == 0.0:
            out[0] = 1.0  # an empty text still gets a valid unit vector (pgvector rejects zero cosine)
            return out
        return out / norm

    def _add(self, out: np.ndarray, prefix: str, counts: Mapping[str, float], weight: float) -> None:
        group = np.zeros(self.dim, dtype=np.float64)
        for feature, count in counts.items():
            idx, sign = _bucket(prefix + feature, self.dim)
            group[idx] += sign * ((1.0 + math.log(count)) if count >= 1 else count)
        norm = float(np.linalg.norm(group))
        if norm:
            out += weight * group / norm


class OpenAIEmbedderAdapter:
    """``text-embedding-3-small`` (1536 dims) through ``integrations.llm.embeddings.OpenAIEmbedder``.

    The client (timeouts, retries, typed errors, content cache) belongs to integrations/ and is async; this adapter
    gives it the synchronous knowledge-base ``Embedder`` shape by running it on the process's event loop
    (``voronka.asyncbridge``, a daemon thread: so it also works when called from code that already runs a loop).
    """

    name = OPENAI_NAME
    dim = OPENAI_DIM

    def __init__(self, client: Any, bridge: AsyncBridge | None = None) -> None:
        self._client = client  # an OpenAIEmbedder (anything with ``async embed(texts)``)
        self._bridge = bridge or shared_bridge()

    @classmethod
    def from_settings(cls, settings: Settings, *, cache: Any = None) -> OpenAIEmbedderAdapter:
        """``NotConfigured`` without ``OPENAI_API_KEY``."""
        from integrations.llm.embeddings import OpenAIEmbedder  # reason: the OpenAI SDK takes seconds to import

        return cls(OpenAIEmbedder.from_settings(settings, cache=cache))

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = [list(map(float, v)) for v in self._bridge.run(self._client.embed(texts))]
        for vec in vectors:
            if len(vec) != self.dim:
                raise ValueError(f"expected {self.dim}-dim embeddings, got {len(vec)}")
        return vectors

    def close(self) -> None:
        aclose = getattr(self._client, "aclose", None)
        if aclose is not None and not self._bridge.closed:
            self._bridge.run(aclose(), timeout=10)


def make_embedder(settings: Settings, *, cache: Any = None) -> Embedder:
    """The configured embedder: ``KB_EMBEDDER`` = offline | openai | auto (OpenAI when ``OPENAI_API_KEY`` is set).

    ``cache`` (a sync Redis client or a dict) keeps OpenAI vectors by content hash, so re-ingesting costs nothing.
    """
    choice = getattr(settings, "KB_EMBEDDER", "auto")
    if choice == "openai" or (choice == "auto" and settings.OPENAI_API_KEY):
        return OpenAIEmbedderAdapter.from_settings(settings, cache=cache)
    return OfflineEmbedder()
