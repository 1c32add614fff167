"""OpenAI embeddings through the real SDK against the local OpenAI fake."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest

from integrations.llm.embeddings import OpenAIEmbedder, cache_key
from tests.fakes.openai_fake import OpenAIFake, embedding_vector
from tests.support.sleep import SleepRecorder
from voronka.errors import NotConfigured, UpstreamError, ValidationError
from voronka.settings import load_settings

KEY = "sk-embed-test"


@pytest.fixture
async def embed_fake() -> AsyncIterator[OpenAIFake]:
    async with OpenAIFake(api_keys={KEY}) as server:
        yield server


@pytest.fixture
async def make_embedder(embed_fake: OpenAIFake, sleeps: SleepRecorder) -> AsyncIterator[Any]:
    made: list[OpenAIEmbedder] = []

    def make(*, cache: Any = None, **overrides: Any) -> OpenAIEmbedder:
        values: dict[str, Any] = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": embed_fake.base_url, "MAX_RETRIES": 3}
        values.update(overrides)
        embedder = OpenAIEmbedder.from_settings(load_settings(**values), cache=cache, sleep=sleeps)
        made.append(embedder)
        return embedder

    yield make
    for embedder in made:
        await embedder.aclose()


def embedding_calls(embed_fake: OpenAIFake) -> list[list[str]]:
    return [r.json["input"] for r in embed_fake.requests_to("/v1/embeddings")]


async def test_vectors_have_1536_dimensions_and_follow_the_input_order(make_embedder: Any) -> None:
    texts = ["ИИ-Юрист проверяет договоры", "ИИ-Аналитик строит отчёты", "ИИ-Менеджер отвечает в Avito"]
    vectors = await make_embedder().embed(texts)
    assert [len(v) for v in vectors] == [1536, 1536, 1536]
    for text, vector in zip(texts, vectors, strict=True):
        expected = embedding_vector("text-embedding-3-small", text, 1536)
        assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6) for a, b in zip(vector, expected, strict=True))


async def test_large_inputs_are_sent_in_batches_of_at_most_100(make_embedder: Any, embed_fake: OpenAIFake) -> None:
    texts = [f"фрагмент базы знаний номер {i}" for i in range(250)]
    vectors = await make_embedder().embed(texts)
    assert len(vectors) == 250
    assert [len(batch) for batch in embedding_calls(embed_fake)] == [100, 100, 50]
    assert [text for batch in embedding_calls(embed_fake) for text in batch] == texts


async def test_dict_cache_spares_a_second_request_and_duplicates_are_sent_once(make_embedder: Any,
                                                                               embed_fake: OpenAIFake) -> None:
    cache: dict[str, bytes] = {}
    embedder = make_embedder(cache=cache)
    first = await embedder.embed(["Сколько стоит?", "Сроки внедрения", "Сколько стоит?"])
    assert embedding_calls(embed_fake) == [["Сколько стоит?", "Сроки внедрения"]]
    assert first[0] == first[2]
    assert cache_key("text-embedding-3-small", 1536, "Сроки внедрения") in cache

    again = await embedder.embed(["Сроки внедрения", "Новый вопрос"])
    assert embedding_calls(embed_fake)[1:] == [["Новый вопрос"]]
    assert again[0] == first[1]


async def test_redis_like_async_cache_is_shared_between_embedders(make_embedder: Any, embed_fake: OpenAIFake) -> None:
    redis = fakeredis.FakeAsyncRedis()
    await make_embedder(cache=redis).embed(["Кейсы внедрения"])
    vectors = await make_embedder(cache=redis).embed(["Кейсы внедрения"])
    assert len(embedding_calls(embed_fake)) == 1
    assert len(vectors[0]) == 1536


async def test_server_errors_are_retried_with_backoff(make_embedder: Any, embed_fake: OpenAIFake,
                                                      sleeps: SleepRecorder) -> None:
    embed_fake.fail_next(500)
    embed_fake.rate_limit_next(retry_after=2)
    vectors = await make_embedder().embed(["Интеграция с amoCRM"])
    assert len(vectors[0]) == 1536
    assert len(embedding_calls(embed_fake)) == 3
    assert len(sleeps.calls) == 2
    assert sleeps.calls[1] == 2.0  # the server's retry-after wins over the backoff


async def test_giving_up_after_max_retries_raises_retryable_upstream_error(make_embedder: Any,
                                                                           embed_fake: OpenAIFake) -> None:
    embed_fake.fail_next(503, times=3)
    with pytest.raises(UpstreamError) as caught:
        await make_embedder(MAX_RETRIES=2).embed(["текст"])
    assert caught.value.retryable is True
    assert len(embedding_calls(embed_fake)) == 3


async def test_bad_key_is_not_retried(make_embedder: Any, embed_fake: OpenAIFake, sleeps: SleepRecorder) -> None:
    with pytest.raises(UpstreamError) as caught:
        await make_embedder(OPENAI_API_KEY="sk-wrong").embed(["текст"])
    assert (caught.value.retryable, caught.value.status_code) == (False, 401)
    assert sleeps.calls == []


async def test_empty_text_is_refused_before_any_request(make_embedder: Any, embed_fake: OpenAIFake) -> None:
    with pytest.raises(ValidationError):
        await make_embedder().embed(["нормальный текст", "   "])
    assert embedding_calls(embed_fake) == []


def test_no_key_means_not_configured() -> None:
    with pytest.raises(NotConfigured):
        OpenAIEmbedder.from_settings(load_settings(OPENAI_API_KEY=""))
