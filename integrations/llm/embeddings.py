"""OpenAI embeddings (``text-embedding-3-small``, 1536 dimensions) with batching and a content-addressed cache.

The cache key is the SHA-256 of the text (plus model and dimensions), so the same chunk is never paid for twice. The
cache is injectable: a plain dict (or any mutable mapping), or a Redis-like object with async or sync
``get(key)`` / ``set(key, value)``. Vectors are stored as packed float32 bytes (what the API sends anyway).
"""

from __future__ import annotations

import array
import asyncio
import hashlib
import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import openai
from loguru import logger
from openai.types import CreateEmbeddingResponse

from integrations.http import RetryPolicy, call_with_retries
from integrations.llm.providers import classify
from voronka.errors import NotConfigured, UpstreamError, ValidationError
from voronka.settings import Settings

DEFAULT_MODEL = "text-embedding-3-small"
DEFAULT_DIMENSIONS = 1536
MAX_BATCH = 100  # inputs per API call (the API allows 2048; smaller calls fail and retry more cheaply)

Sleep = Callable[[float], Awaitable[None]]


def cache_key(model: str, dimensions: int, text: str) -> str:
    return f"emb:{model}:{dimensions}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def pack(vector: list[float]) -> bytes:
    return array.array("f", vector).tobytes()


def unpack(raw: bytes) -> list[float]:
    return array.array("f", raw).tolist()


class OpenAIEmbedder:
    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str = DEFAULT_MODEL,
        dimensions: int = DEFAULT_DIMENSIONS,
        cache: Any = None,
        batch_size: int = MAX_BATCH,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        self.model = model
        self.dimensions = dimensions
        self._client = client
        self._cache = cache
        self._batch_size = batch_size
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings, *, cache: Any = None, sleep: Sleep = asyncio.sleep) -> OpenAIEmbedder:
        """``NotConfigured`` without ``OPENAI_API_KEY``: the caller then uses the offline embedder."""
        if not settings.OPENAI_API_KEY:
            raise NotConfigured("OPENAI_API_KEY не задан: эмбеддинги OpenAI недоступны", field="OPENAI_API_KEY")
        timeout = float(settings.LLM_TIMEOUT_SECONDS)
        client = openai.AsyncOpenAI(base_url=settings.OPENAI_BASE_URL, api_key=settings.OPENAI_API_KEY,
                                    max_retries=0, timeout=timeout)
        return cls(client, model=settings.OPENAI_EMBEDDING_MODEL, cache=cache, timeout=timeout,
                   retry=RetryPolicy(max_retries=settings.MAX_RETRIES), sleep=sleep)

    async def aclose(self) -> None:
        await self._client.close()

    # --- cache ----------------------------------------------------------------------------------------------

    async def _cache_get(self, key: str) -> list[float] | None:
        if self._cache is None:
            return None
        value = self._cache.get(key)
        if inspect.isawaitable(value):
            value = await value
        if not value or not isinstance(value, bytes | bytearray | memoryview):
            return None  # a miss (a Redis client with decode_responses=True cannot hold these values)
        vector = unpack(bytes(value))
        return vector if len(vector) == self.dimensions else None

    async def _cache_set(self, key: str, vector: list[float]) -> None:
        if self._cache is None:
            return
        if isinstance(self._cache, MutableMapping):
            self._cache[key] = pack(vector)
            return
        outcome = self._cache.set(key, pack(vector))
        if inspect.isawaitable(outcome):
            await outcome

    # --- API ------------------------------------------------------------------------------------------------

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order. Cached texts are not sent; duplicates are sent once."""
        for i, text in enumerate(texts):
            if not text or not text.strip():
                raise ValidationError(f"Пустой текст для эмбеддинга (позиция {i})", field="texts")
        keys = [cache_key(self.model, self.dimensions, t) for t in texts]
        found: dict[str, list[float]] = {}
        missing: dict[str, str] = {}  # key -> text, first occurrence wins, insertion-ordered
        for key, text in zip(keys, texts, strict=True):
            if key in found or key in missing:
                continue
            cached = await self._cache_get(key)
            if cached is not None:
                found[key] = cached
            else:
                missing[key] = text
        pending = list(missing.items())
        for start in range(0, len(pending), self._batch_size):
            batch = pending[start:start + self._batch_size]
            vectors = await self._call([text for _, text in batch])
            for (key, _), vector in zip(batch, vectors, strict=True):
                found[key] = vector
                await self._cache_set(key, vector)
        return [found[key] for key in keys]

    async def _call(self, inputs: list[str]) -> list[list[float]]:
        async def attempt() -> CreateEmbeddingResponse:
            try:
                return await self._client.embeddings.create(
                    model=self.model, input=inputs, timeout=self._timeout,
                    dimensions=self.dimensions if self.model.startswith("text-embedding-3") else openai.omit,
                )
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
                if failure.kind == "auth":
                    logger.error("OpenAI embeddings rejected our API key (HTTP {})", failure.status)
                raise UpstreamError(f"OpenAI embeddings failed: {failure.kind}", service="openai",
                                    retryable=failure.kind in ("server", "connection", "timeout", "rate_limit"),
                                    status_code=failure.status, retry_after=failure.retry_after) from exc

        response = await call_with_retries(attempt, what="OpenAI embeddings", policy=self._retry,
                                           sleep=self._sleep)
        data = sorted(response.data, key=lambda item: item.index)
        vectors = [list(item.embedding) for item in data]
        if len(vectors) != len(inputs) or any(len(v) != self.dimensions for v in vectors):
            raise UpstreamError("OpenAI embeddings: unexpected response shape", service="openai",
                                retryable=False)
        logger.debug("OpenAI embeddings: {} inputs, {} tokens", len(inputs), response.usage.total_tokens)
        return vectors
