"""One adapter per LLM API, all speaking the same small interface, plus the classification of their failures.

The adapters use the official SDKs with ``max_retries=0``: retrying and failing over is the router's job.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import anthropic
import openai
from anthropic.types import (
    RawContentBlockDeltaEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    TextBlock,
    TextDelta,
)

from integrations.llm.errors import LLMError

# The Anthropic API version the contract names. Newer SDKs default to a later version and to Bearer auth; we
# send the documented ``x-api-key`` + ``anthropic-version`` pair explicitly so requests match the contract.
ANTHROPIC_VERSION = "2023-06-01"

JSON_INSTRUCTION = "Respond with a single JSON object only: no prose, no markdown, no code fences."

Message = Mapping[str, Any]


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int


@dataclass
class StreamUsage:
    """Filled in by a provider's stream while it runs (the totals arrive with the last events)."""

    input_tokens: int = 0
    output_tokens: int = 0


class Provider(Protocol):
    name: str
    model: str

    async def complete(self, system: str, messages: Sequence[Message], *, json_mode: bool, max_tokens: int,
                       timeout: float) -> Completion: ...

    def stream(self, system: str, messages: Sequence[Message], *, max_tokens: int, timeout: float,
               usage: StreamUsage) -> AsyncGenerator[str, None]: ...

    async def aclose(self) -> None: ...


def _text_of(content: Any) -> str:
    """Message content as plain text (a string, or a list of ``{"type": "text", "text": ...}`` parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return str(content)


def _mentions_json(system: str, messages: Sequence[Message]) -> bool:
    if "json" in system.lower():
        return True
    return any("json" in _text_of(m.get("content", "")).lower() for m in messages)


class OpenAIChatProvider:
    """OpenAI Chat Completions — also OpenRouter, which speaks the same API at its own base URL."""

    def __init__(self, name: str, client: openai.AsyncOpenAI, model: str) -> None:
        self.name = name
        self.model = model
        self._client = client

    @classmethod
    def create(cls, name: str, *, base_url: str, api_key: str, model: str,
               timeout: float) -> OpenAIChatProvider:
        client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)
        return cls(name, client, model)

    def _messages(self, system: str, messages: Sequence[Message], json_mode: bool) -> list[dict[str, Any]]:
        if json_mode and not _mentions_json(system, messages):
            # the API refuses json_object mode unless the word "json" appears in the messages
            system = f"{system}\n\n{JSON_INSTRUCTION}".strip()
        out: list[dict[str, Any]] = []
        if system:
            out.append({"role": "system", "content": system})
        out.extend({"role": str(m["role"]), "content": _text_of(m.get("content", ""))} for m in messages)
        return out

    async def complete(self, system: str, messages: Sequence[Message], *, json_mode: bool, max_tokens: int,
                       timeout: float) -> Completion:
        response = await self._client.chat.completions.create(
            model=self.model,
            messages=cast(Any, self._messages(system, messages, json_mode)),
            max_tokens=max_tokens,
            response_format={"type": "json_object"} if json_mode else openai.omit,
            timeout=timeout,
        )
        if not response.choices:
            raise LLMError("LLM response has no choices", provider=self.name)
        text = response.choices[0].message.content or ""
        usage = response.usage
        return Completion(text=text, input_tokens=usage.prompt_tokens if usage else 0,
                          output_tokens=usage.completion_tokens if usage else 0)

    async def stream(self, system: str, messages: Sequence[Message], *, max_tokens: int, timeout: float,
                     usage: StreamUsage) -> AsyncGenerator[str, None]:
        response = await self._client.chat.completions.create(
            model=self.model,
            messages=cast(Any, self._messages(system, messages, False)),
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
            timeout=timeout,
        )
        try:
            async for chunk in response:
                if chunk.usage is not None:
                    usage.input_tokens = chunk.usage.prompt_tokens
                    usage.output_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
        finally:
            await response.close()

    async def aclose(self) -> None:
        await self._client.close()


class AnthropicProvider:
    """Anthropic Messages API."""

    name = "anthropic"

    def __init__(self, client: anthropic.AsyncAnthropic, model: str) -> None:
        self.model = model
        self._client = client

    @classmethod
    def create(cls, *, base_url: str, api_key: str, model: str, timeout: float) -> AnthropicProvider:
        client = anthropic.AsyncAnthropic(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            timeout=timeout,
            default_headers={
                "x-api-key": api_key,
                "anthropic-version": ANTHROPIC_VERSION,
                "Authorization": anthropic.omit,  # type: ignore[dict-item]
            },
        )
        return cls(client, model)

    @staticmethod
    def _split(system: str, messages: Sequence[Message], json_mode: bool) -> tuple[str, list[dict[str, Any]]]:
        """System text apart; the rest as alternating user/assistant turns starting with the user."""
        systems = [system] if system else []
        turns: list[dict[str, Any]] = []
        for m in messages:
            role, text = str(m["role"]), _text_of(m.get("content", ""))
            if role in ("system", "developer"):
                systems.append(text)
                continue
            role = "assistant" if role == "assistant" else "user"
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"] += "\n\n" + text
            else:
                turns.append({"role": role, "content": text})
        if not turns or turns[0]["role"] != "user":
            turns.insert(0, {"role": "user", "content": "…"})
        if json_mode:
            systems.append(JSON_INSTRUCTION)
        return "\n\n".join(s for s in systems if s), turns

    async def complete(self, system: str, messages: Sequence[Message], *, json_mode: bool, max_tokens: int,
                       timeout: float) -> Completion:
        system_text, turns = self._split(system, messages, json_mode)
        response = await self._client.messages.create(
            model=self.model, max_tokens=max_tokens, messages=cast(Any, turns),
            system=system_text or anthropic.omit, timeout=timeout,
        )
        text = "".join(block.text for block in response.content if isinstance(block, TextBlock))
        return Completion(text=text, input_tokens=response.usage.input_tokens,
                          output_tokens=response.usage.output_tokens)

    async def stream(self, system: str, messages: Sequence[Message], *, max_tokens: int, timeout: float,
                     usage: StreamUsage) -> AsyncGenerator[str, None]:
        system_text, turns = self._split(system, messages, False)
        response = await self._client.messages.create(
            model=self.model, max_tokens=max_tokens, messages=cast(Any, turns),
            system=system_text or anthropic.omit, stream=True, timeout=timeout,
        )
        try:
            async for event in response:
                if isinstance(event, RawMessageStartEvent):
                    usage.input_tokens = event.message.usage.input_tokens
                    usage.output_tokens = event.message.usage.output_tokens
                elif isinstance(event, RawContentBlockDeltaEvent):
                    if isinstance(event.delta, TextDelta) and event.delta.text:
                        yield event.delta.text
                elif isinstance(event, RawMessageDeltaEvent):
                    usage.output_tokens = event.usage.output_tokens
                    if event.usage.input_tokens is not None:
                        usage.input_tokens = event.usage.input_tokens
        finally:
            await response.close()

    async def aclose(self) -> None:
        await self._client.close()


# --- failures ---------------------------------------------------------------------------------------------

FailureKind = Literal["server", "connection", "timeout", "rate_limit", "auth", "client", "bad_response"]

# kinds that say "this provider is unwell right now": skip it for the cool-down
COOL_DOWN_KINDS: frozenset[str] = frozenset({"server", "connection", "timeout", "rate_limit", "auth"})


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    status: int | None = None
    retry_after: float | None = None
    detail: str = ""

    def describe(self, provider: str) -> str:
        status = f" {self.status}" if self.status else ""
        return f"{provider}: {self.kind}{status}"


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or HTTP date); None when absent."""
    if not headers:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _status_failure(status: int, headers: Mapping[str, str] | None, error_type: str | None) -> Failure:
    detail = error_type or ""
    if status == 429:
        return Failure("rate_limit", status, parse_retry_after(headers), detail)
    if status in (401, 403):
        return Failure("auth", status, None, detail)
    if status in (408, 504):
        return Failure("timeout", status, None, detail)
    if status >= 500 or error_type in ("overloaded_error", "api_error", "server_error"):
        return Failure("server", status, parse_retry_after(headers), detail)
    return Failure("client", status, None, detail)


def classify(exc: BaseException) -> Failure | None:
    """The kind of provider failure ``exc`` is; None when it is no provider failure (a bug: re-raise)."""
    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError | TimeoutError):
        return Failure("timeout", detail=type(exc).__name__)
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        return Failure("connection", detail=type(exc).__name__)
    if isinstance(exc, anthropic.APIStatusError):
        # a mid-stream ``event: error`` arrives with the 200 of the stream: trust the error type then
        status = exc.status_code if exc.status_code >= 400 else 500
        return _status_failure(status, exc.response.headers, exc.type)
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc.status_code, exc.response.headers, exc.type or exc.code)
    if isinstance(exc, openai.APIError | anthropic.APIError):
        # an error object inside a 200 stream, or a response the SDK could not read
        return Failure("server", detail=type(exc).__name__)
    if isinstance(exc, LLMError):
        return Failure("bad_response", exc.status_code, None, exc.message)
    return None
