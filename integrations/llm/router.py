"""The LLM router: providers in order of preference, failover, cool-down, first-token deadline, usage, cost.

Order: ``LLM_PROVIDER`` first, then the others that have keys (OpenAI → Anthropic → OpenRouter). A provider
that answers 5xx/529, cannot be reached, times out, rate-limits us or rejects our key is skipped for
``LLM_COOLDOWN_SECONDS``. When nothing is left, ``LLMUnavailable`` is raised and the caller goes offline.

Timeouts: ``timeout`` (default ``LLM_TIMEOUT_SECONDS``) bounds each provider attempt, so a slow provider still
leaves room for the next one; ``stream`` additionally abandons a provider that sends no token within
``LLM_FIRST_TOKEN_SECONDS`` (only before anything was yielded).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loguru import logger
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from integrations.llm.errors import LLMError, LLMUnavailable
from integrations.llm.pricing import cost_usd
from integrations.llm.providers import (
    COOL_DOWN_KINDS,
    AnthropicProvider,
    Completion,
    Failure,
    Message,
    OpenAIChatProvider,
    Provider,
    StreamUsage,
    classify,
)
from voronka.settings import Settings

PROVIDER_NAMES = ("openai", "anthropic", "openrouter")


@dataclass(frozen=True)
class LLMResult:
    text: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latency_ms: int  # from the call to the full answer, failovers included
    first_token_ms: int | None = None  # streams only


UsageSink = Callable[[Any, LLMResult], Awaitable[None] | None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
_OpenedStream = tuple[AsyncGenerator[str, None], StreamUsage, str, float]  # pieces, usage, first piece, started


def _build_provider(name: str, settings: Settings) -> Provider | None:
    timeout = float(settings.LLM_TIMEOUT_SECONDS)
    if name == "openai" and settings.OPENAI_API_KEY:
        return OpenAIChatProvider.create("openai", base_url=settings.OPENAI_BASE_URL,
                                         api_key=settings.OPENAI_API_KEY, model=settings.OPENAI_MODEL,
                                         timeout=timeout)
    if name == "anthropic" and settings.ANTHROPIC_API_KEY:
        return AnthropicProvider.create(base_url=settings.ANTHROPIC_BASE_URL,
                                        api_key=settings.ANTHROPIC_API_KEY, model=settings.ANTHROPIC_MODEL,
                                        timeout=timeout)
    if name == "openrouter" and settings.OPENROUTER_API_KEY:
        return OpenAIChatProvider.create("openrouter", base_url=settings.OPENROUTER_BASE_URL,
                                         api_key=settings.OPENROUTER_API_KEY, model=settings.OPENROUTER_MODEL,
                                         timeout=timeout)
    return None


def provider_order(preferred: str) -> list[str]:
    """``preferred`` first, then the rest in the fixed order; ``offline`` means no LLM at all."""
    if preferred == "offline":
        return []
    return [preferred, *(n for n in PROVIDER_NAMES if n != preferred)]


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)


def parse_json_object(text: str, *, provider: str = "llm") -> dict[str, Any]:
    """The JSON object in a model answer (code fences tolerated); ``LLMError`` when there is none."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            raise LLMError("LLM answer is not JSON", provider=provider, retryable=False) from None
        try:
            value = json.loads(body[start:end + 1])
        except json.JSONDecodeError:
            raise LLMError("LLM answer is not JSON", provider=provider, retryable=False) from None
    if not isinstance(value, dict):
        raise LLMError("LLM answer is JSON but not an object", provider=provider, retryable=False)
    return value


class LLMRouter:
    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        timeout_seconds: float = 30.0,
        first_token_seconds: float = 3.0,
        cooldown_seconds: float = 60.0,
        max_rate_limit_wait: float = 5.0,
        usage_sink: UsageSink | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._providers = list(providers)
        self.timeout_seconds = timeout_seconds
        self.first_token_seconds = first_token_seconds
        self.cooldown_seconds = cooldown_seconds
        self.max_rate_limit_wait = max_rate_limit_wait
        self._usage_sink = usage_sink
        self._clock = clock
        self._sleep = sleep
        self._cooling_until: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, usage_sink: UsageSink | None = None,
                      clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> LLMRouter:
        providers = [p for name in provider_order(settings.LLM_PROVIDER)
                     if (p := _build_provider(name, settings)) is not None]
        if not providers:
            logger.info("No LLM provider configured (LLM_PROVIDER={}): offline mode", settings.LLM_PROVIDER)
        return cls(
            providers,
            timeout_seconds=float(settings.LLM_TIMEOUT_SECONDS),
            first_token_seconds=settings.LLM_FIRST_TOKEN_SECONDS,
            cooldown_seconds=float(settings.LLM_COOLDOWN_SECONDS),
            usage_sink=usage_sink,
            clock=clock,
            sleep=sleep,
        )

    # --- state --------------------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return bool(self._providers)

    @property
    def providers(self) -> list[str]:
        return [p.name for p in self._providers]

    def cooling_down(self) -> dict[str, float]:
        """Providers being skipped now, with seconds left."""
        now = self._clock()
        return {name: until - now for name, until in self._cooling_until.items() if until > now}

    def _available(self) -> list[Provider]:
        if not self._providers:
            raise LLMUnavailable("Нет настроенного LLM-провайдера")
        now = self._clock()
        ready = [p for p in self._providers if self._cooling_until.get(p.name, 0.0) <= now]
        if not ready:
            raise LLMUnavailable("Все LLM-провайдеры временно недоступны",
                                 failures=[f"{name}: cooling down" for name in self._cooling_until])
        return ready

    def _failed(self, provider: Provider, failure: Failure) -> None:
        if failure.kind == "auth":
            logger.error("LLM provider {} rejected our API key (HTTP {}): check the key", provider.name,
                         failure.status)
        else:
            logger.warning("LLM provider {} failed: {} {} {}", provider.name, failure.kind,
                           failure.status or "", failure.detail)
        if failure.kind in COOL_DOWN_KINDS and self.cooldown_seconds > 0:
            pause = max(self.cooldown_seconds, failure.retry_after or 0.0)
            self._cooling_until[provider.name] = self._clock() + pause

    def _succeeded(self, provider: Provider) -> None:
        self._cooling_until.pop(provider.name, None)

    def _short_rate_limit_wait(self, exc: BaseException | None) -> float | None:
        """The wait a rate limit asks for, when it is at most ``max_rate_limit_wait``; else None."""
        failure = classify(exc) if exc is not None else None
        if failure is None or failure.kind != "rate_limit" or failure.retry_after is None:
            return None
        return failure.retry_after if failure.retry_after <= self.max_rate_limit_wait else None

    def _retrying(self, provider: Provider) -> AsyncRetrying:
        """One more try of the same provider after a short rate limit (its Retry-After waited out); any other
        failure, or a second one, is re-raised at once and the caller fails over."""

        def wait(state: RetryCallState) -> float:
            return self._short_rate_limit_wait(state.outcome.exception() if state.outcome else None) or 0.0

        def log(state: RetryCallState) -> None:
            logger.info("LLM provider {} asks to retry after {}s", provider.name, state.upcoming_sleep)

        return AsyncRetrying(
            sleep=self._sleep,
            retry=retry_if_exception(lambda exc: self._short_rate_limit_wait(exc) is not None),
            stop=stop_after_attempt(2),
            wait=wait,
            before_sleep=log,
            reraise=True,
        )

    async def _record(self, lead_id: Any, result: LLMResult) -> None:
        logger.info("LLM {} {} in={} out={} cost=${} {}ms", result.provider, result.model,
                    result.input_tokens, result.output_tokens, result.cost_usd, result.latency_ms)
        if self._usage_sink is None:
            return
        try:
            outcome = self._usage_sink(lead_id, result)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            # the answer is good; a lost usage row must not cost the client their reply
            logger.exception("LLM usage sink failed for provider {}", result.provider)

    # --- calls --------------------------------------------------------------------------------------------

    async def complete(self, system: str, messages: list[dict[str, Any]], *, json_mode: bool = False,
                       max_tokens: int = 600, lead_id: Any = None, timeout: float | None = None) -> LLMResult:
        """One answer from the first provider that gives one; ``LLMUnavailable`` when none does."""
        attempt_timeout = timeout if timeout is not None else self.timeout_seconds
        started = time.perf_counter()
        failures: list[str] = []
        for provider in self._available():

            async def attempt(provider: Provider = provider) -> Completion:
                async with asyncio.timeout(attempt_timeout):
                    completion = await provider.complete(system, messages, json_mode=json_mode,
                                                         max_tokens=max_tokens, timeout=attempt_timeout)
                if not completion.text.strip():
                    raise LLMError("LLM answer is empty", provider=provider.name)
                return completion

            try:
                completion: Completion = await self._retrying(provider)(attempt)
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
                self._failed(provider, failure)
                failures.append(failure.describe(provider.name))
                continue
            self._succeeded(provider)
            result = LLMResult(
                text=completion.text,
                provider=provider.name,
                model=provider.model,
                input_tokens=completion.input_tokens,
                output_tokens=completion.output_tokens,
                cost_usd=cost_usd(provider.model, completion.input_tokens, completion.output_tokens),
                latency_ms=round((time.perf_counter() - started) * 1000),
            )
            await self._record(lead_id, result)
            return result
        raise LLMUnavailable("Ни один LLM-провайдер не ответил", failures=failures)

    async def complete_json(self, system: str, user: str, *, timeout: float, lead_id: Any = None,
                            max_tokens: int = 600) -> dict[str, Any]:
        """A JSON object answer (JSON mode); ``LLMError`` when the answer is not a JSON object."""
        result = await self.complete(system, [{"role": "user", "content": user}], json_mode=True,
                                     max_tokens=max_tokens, lead_id=lead_id, timeout=timeout)
        return parse_json_object(result.text, provider=result.provider)

    async def stream(self, system: str, messages: list[dict[str, Any]], *, lead_id: Any = None,
                     max_tokens: int = 600, timeout: float | None = None) -> AsyncIterator[str]:
        """Text pieces as they arrive.

        Failover happens only before the first piece; after it, a failure raises ``LLMError`` (the caller
        keeps or discards what it showed)."""
        attempt_timeout = timeout if timeout is not None else self.timeout_seconds
        started = time.perf_counter()
        failures: list[str] = []
        for provider in self._available():

            async def open_stream(provider: Provider = provider) -> _OpenedStream:
                """The provider's stream with its first piece (it is closed again when there is none)."""
                usage = StreamUsage()
                pieces = provider.stream(system, messages, max_tokens=max_tokens, timeout=attempt_timeout,
                                         usage=usage)
                attempt_started = time.perf_counter()
                try:
                    async with asyncio.timeout(min(self.first_token_seconds, attempt_timeout)):
                        first = await anext(pieces, None)
                    if first is None:
                        raise LLMError("LLM stream ended without text", provider=provider.name)
                except BaseException:
                    await pieces.aclose()
                    raise
                return pieces, usage, first, attempt_started

            try:
                opened: _OpenedStream = await self._retrying(provider)(open_stream)
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
                self._failed(provider, failure)
                failures.append(failure.describe(provider.name))
                continue
            pieces, usage, first, attempt_started = opened
            try:
                first_token_ms = round((time.perf_counter() - started) * 1000)
                yield first
                parts = [first]
                deadline = attempt_started + attempt_timeout
                while True:
                    try:
                        async with asyncio.timeout(max(0.0, deadline - time.perf_counter())):
                            piece = await anext(pieces)
                    except StopAsyncIteration:
                        break
                    except Exception as exc:
                        failure = classify(exc)
                        if failure is None:
                            raise
                        self._failed(provider, failure)
                        raise LLMError("LLM stream broke off", provider=provider.name,
                                       status_code=failure.status) from exc
                    parts.append(piece)
                    yield piece
            finally:
                await pieces.aclose()
            self._succeeded(provider)
            text = "".join(parts)
            result = LLMResult(
                text=text,
                provider=provider.name,
                model=provider.model,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=cost_usd(provider.model, usage.input_tokens, usage.output_tokens),
                latency_ms=round((time.perf_counter() - started) * 1000),
                first_token_ms=first_token_ms,
            )
            await self._record(lead_id, result)
            return
        raise LLMUnavailable("Ни один LLM-провайдер не ответил", failures=failures)

    async def aclose(self) -> None:
        for provider in self._providers:
            await provider.aclose()

    async def __aenter__(self) -> LLMRouter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


__all__ = [
    "LLMError", "LLMResult", "LLMRouter", "LLMUnavailable", "Message", "UsageSink", "parse_json_object",
]
