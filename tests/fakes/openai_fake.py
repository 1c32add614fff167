"""A faithful local fake of the OpenAI API (and of OpenRouter, which speaks the same API).

Paths (under ``/v1``, so the base URL is ``<origin>/v1``): ``POST /v1/chat/completions`` (plain, JSON mode via
``response_format``, ``stream: true`` as SSE ``data: {...}`` chunks closed by ``data: [DONE]``, usage in a last
chunk when ``stream_options.include_usage``), ``POST /v1/embeddings`` (deterministic unit vectors of the model's
dimension, ``float`` or ``base64`` encoding). Auth by ``Authorization: Bearer <key>``; errors as
``{"error": {"message", "type", "param", "code"}}`` with the real statuses, ``retry-after`` on 429.

Usage::

    async with OpenAIFake(api_keys={"sk-test"}) as fake:
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
"""

from __future__ import annotations

import array
import base64
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.llm_scripted import (
    Fault,
    ScriptedAnswer,
    ScriptedFake,
    approx_tokens,
    retry_after_headers,
    split_pieces,
)

EMBEDDING_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
MAX_EMBEDDING_INPUTS = 2048
CHAT_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}

_STATUS_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_response(status: int, message: str, *, error_type: str = "invalid_request_error",
                   code: str | None = None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def fault_response(fault: Fault) -> web.Response:
    status = fault.status or 500
    error_type, code, message = _STATUS_ERRORS.get(status, ("server_error", None, "Unexpected error."))
    return error_response(status, fault.message or message, error_type=fault.error_type or error_type,
                          code=fault.code or code, headers=retry_after_headers(fault))


def embedding_vector(model: str, text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for (model, text): same input, same vector; different texts differ."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\x00{text}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


@dataclass
class OpenAIFake(ScriptedFake):
    """``models``: accepted chat model names (None: any)."""

    api_keys: set[str] = field(default_factory=lambda: {"sk-test"})
    models: set[str] | None = None
    id_prefix: str = "chatcmpl-"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        return app

    # --- shared checks --------------------------------------------------------------------------------------

    def _auth_error(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return error_response(401, "You didn't provide an API key. You need to provide your API key in an "
                                  "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                                  code=None)
        key = header.removeprefix("Bearer ").strip()
        if key not in self.api_keys:
            shown = f"{key[:3]}***{key[-4:]}" if len(key) > 8 else "***"
            return error_response(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                                  "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        return None

    # --- chat -----------------------------------------------------------------------------------------------

    def _validate_chat(self, body: Any) -> web.Response | None:
        if not isinstance(body, dict):
            return error_response(400, "We could not parse the JSON body of your request. (HINT: This likely "
                                  "means you aren't using your HTTP library correctly.)")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return error_response(400, "you must provide a model parameter", param="model")
        if self.models is not None and model not in self.models:
            return error_response(404, f"The model `{model}` does not exist or you do not have access to it.",
                                  code="model_not_found")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return error_response(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                                  "but got an empty array instead.", param="messages", code="empty_array")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in CHAT_ROLES:
                return error_response(400, f"Invalid value for 'messages[{i}].role'.", param=f"messages[{i}].role",
                                      code="invalid_value")
            if message.get("role") != "assistant" and not isinstance(message.get("content"), str | list):
                return error_response(400, f"Missing required parameter: 'messages[{i}].content'.",
                                      param=f"messages[{i}].content", code="missing_required_parameter")
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            return error_response(400, f"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, "
                                  f"but got {max_tokens} instead.", param="max_tokens", code="integer_below_min_value")
        if body.get("stream_options") is not None and not body.get("stream"):
            return error_response(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                  param="stream_options", code="invalid_value")
        response_format = body.get("response_format")
        if response_format is not None:
            kind = response_format.get("type") if isinstance(response_format, dict) else None
            if kind not in ("text", "json_object", "json_schema"):
                return error_response(400, "Invalid value for 'response_format.type'.", param="response_format.type",
                                      code="invalid_value")
            if kind == "json_object" and not any(
                "json" in _content_text(m.get("content")).lower() for m in messages
            ):
                return error_response(400, "'messages' must contain the word 'json' in some form, to use "
                                      "'response_format' of type 'json_object'.", param="messages")
        return None

    def _usage(self, messages: list[dict[str, Any]], answer: ScriptedAnswer) -> dict[str, int]:
        prompt = answer.input_tokens
        if prompt is None:
            prompt = sum(approx_tokens(_content_text(m.get("content"))) + 4 for m in messages) + 3
        completion = answer.output_tokens if answer.output_tokens is not None else approx_tokens(answer.text)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        denied = self._auth_error(request)
        if denied is not None:
            return denied
        body = recorded.body
        invalid = self._validate_chat(body)
        if invalid is not None:
            return invalid
        fault = self.next_fault()
        if fault is not None:
            await self.pause(fault.delay)
            if fault.status is not None:
                return fault_response(fault)
        rf = body.get("response_format")
        json_mode = isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema")
        answer = self.next_answer(json_mode=json_mode)
        usage = self._usage(body["messages"], answer)
        completion_id = self.request_id(self.id_prefix)
        created = int(time.time())
        headers = {"x-request-id": self.request_id("req_")}
        if not body.get("stream"):
            return web.json_response({
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": body["model"],
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }],
                "usage": usage,
                "system_fingerprint": "fp_fake",
            }, headers=headers)

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        response = web.StreamResponse(headers={**headers, "Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            data: dict[str, Any] = {
                "id": completion_id, "object": "chat.completion.chunk", "created": created, "model": body["model"],
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                data["usage"] = None
            return data

        async def send(data: dict[str, Any] | str) -> None:
            payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
            await response.write(f"data: {payload}\n\n".encode())

        await send(chunk({"role": "assistant", "content": "", "refusal": None}))
        if fault is not None:
            await self.pause(fault.stall)
        for piece in split_pieces(answer.text):
            await send(chunk({"content": piece}))
        await send(chunk({}, "stop"))
        if include_usage:
            await send({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                        "model": body["model"], "system_fingerprint": "fp_fake", "choices": [], "usage": usage})
        await send("[DONE]")
        await response.write_eof()
        return response

    # --- embeddings -----------------------------------------------------------------------------------------

    async def _embeddings(self, request: web.Request) -> web.Response:
        recorded = await self.record(request)
        denied = self._auth_error(request)
        if denied is not None:
            return denied
        body = recorded.body
        if not isinstance(body, dict):
            return error_response(400, "We could not parse the JSON body of your request.")
        model = body.get("model")
        if model not in EMBEDDING_DIMENSIONS:
            return error_response(404, f"The model `{model}` does not exist or you do not have access to it.",
                                  code="model_not_found")
        raw_input = body.get("input")
        inputs = [raw_input] if isinstance(raw_input, str) else raw_input
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) and t for t in inputs):
            return error_response(400, "'$.input' is invalid. Please check the API reference: "
                                  "https://platform.openai.com/docs/api-reference.", param="input")
        if len(inputs) > MAX_EMBEDDING_INPUTS:
            return error_response(400, f"'$.input' is invalid: at most {MAX_EMBEDDING_INPUTS} inputs per request.",
                                  param="input")
        dimensions = EMBEDDING_DIMENSIONS[model]
        wanted = body.get("dimensions")
        if wanted is not None:
            if model == "text-embedding-ada-002":
                return error_response(400, "This model does not support specifying dimensions.",
                                      param="dimensions")
            if not isinstance(wanted, int) or not 1 <= wanted <= dimensions:
                return error_response(400, f"Invalid 'dimensions': must be between 1 and {dimensions}.",
                                      param="dimensions")
            dimensions = wanted
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return error_response(400, "Invalid value for 'encoding_format'.", param="encoding_format")
        fault = self.next_fault()
        if fault is not None:
            await self.pause(fault.delay)
            if fault.status is not None:
                return fault_response(fault)
        data = []
        for index, text in enumerate(inputs):
            vector = embedding_vector(model, text, dimensions)
            value: Any = vector
            if encoding == "base64":
                value = base64.b64encode(array.array("f", vector).tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(approx_tokens(t) for t in inputs)
        return web.json_response({"object": "list", "data": data, "model": model,
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
