"""A faithful local fake of the Anthropic Messages API.

``POST /v1/messages`` (base URL is the origin): headers ``x-api-key`` and ``anthropic-version`` are checked; the
body needs ``model``, ``max_tokens``, ``messages`` (user/assistant turns starting with the user; the system prompt
goes in the top-level ``system``). ``stream: true`` answers with named SSE events (``message_start``,
``content_block_start``, ``ping``, ``content_block_delta``, ``content_block_stop``, ``message_delta``,
``message_stop``). Errors are ``{"type": "error", "error": {"type", "message"}}``: 401 authentication_error,
429 rate_limit_error (with ``retry-after``), 500 api_error, 529 overloaded_error.
"""

from __future__ import annotations

import json
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

KNOWN_VERSIONS = {"2023-06-01", "2023-01-01"}

_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Bad request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


@dataclass
class AnthropicFake(ScriptedFake):
    api_keys: set[str] = field(default_factory=lambda: {"sk-ant-test"})
    models: set[str] | None = None

    @property
    def base_url(self) -> str:
        return self.origin

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        return app

    def _error(self, status: int, error_type: str, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
        request_id = self.request_id("req_")
        body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
        return web.json_response(body, status=status, headers={"request-id": request_id, **(headers or {})})

    def _fault_response(self, fault: Fault) -> web.Response:
        status = fault.status or 500
        error_type, message = _STATUS_ERRORS.get(status, ("api_error", "Internal server error"))
        return self._error(status, fault.error_type or error_type, fault.message or message,
                           retry_after_headers(fault))

    def _check(self, request: web.Request, body: Any) -> web.Response | None:
        key = request.headers.get("x-api-key")
        if not key:
            return self._error(401, "authentication_error", "x-api-key header is required")
        if key not in self.api_keys:
            return self._error(401, "authentication_error", "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if not version:
            return self._error(400, "invalid_request_error", "anthropic-version: header is required")
        if version not in KNOWN_VERSIONS:
            return self._error(400, "invalid_request_error", f"anthropic-version: invalid version {version!r}")
        if not isinstance(body, dict):
            return self._error(400, "invalid_request_error", "There was an issue with the JSON body of the request")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._error(400, "invalid_request_error", "model: Field required")
        if self.models is not None and model not in self.models:
            return self._error(404, "not_found_error", f"model: {model}")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return self._error(400, "invalid_request_error", "max_tokens: Field required (an integer >= 1)")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "invalid_request_error", "messages: at least one message is required")
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role == "system":
                return self._error(400, "invalid_request_error", f'messages.{i}.role: Unexpected role "system". '
                                   "The Messages API accepts a top-level `system` parameter, not \"system\" as an "
                                   "input message role.")
            if role not in ("user", "assistant"):
                return self._error(400, "invalid_request_error", f"messages.{i}.role: Input should be 'user' or "
                                   "'assistant'")
            if not isinstance(message.get("content"), str | list):
                return self._error(400, "invalid_request_error", f"messages.{i}.content: Field required")
        if messages[0]["role"] != "user":
            return self._error(400, "invalid_request_error", 'messages: first message must use the "user" role')
        system = body.get("system")
        if system is not None and not isinstance(system, str | list):
            return self._error(400, "invalid_request_error", "system: Input should be a valid string or list")
        return None

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        body = recorded.body
        invalid = self._check(request, body)
        if invalid is not None:
            return invalid
        fault = self.next_fault()
        if fault is not None:
            await self.pause(fault.delay)
            if fault.status is not None:
                return self._fault_response(fault)
        answer = self.next_answer(json_mode="json" in _text(body.get("system")).lower())
        input_tokens, output_tokens = self._usage(body, answer)
        message_id = self.request_id("msg_")
        headers = {"request-id": self.request_id("req_")}
        if not body.get("stream"):
            return web.json_response({
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": answer.text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            }, headers=headers)

        response = web.StreamResponse(headers={**headers, "Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def event(name: str, data: dict[str, Any]) -> None:
            payload = json.dumps({"type": name, **data}, ensure_ascii=False)
            await response.write(f"event: {name}\ndata: {payload}\n\n".encode())

        await event("message_start", {"message": {
            "id": message_id, "type": "message", "role": "assistant", "content": [], "model": body["model"],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }})
        await event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        await event("ping", {})
        if fault is not None:
            await self.pause(fault.stall)
        for piece in split_pieces(answer.text):
            await event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        await event("content_block_stop", {"index": 0})
        await event("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                      "usage": {"output_tokens": output_tokens}})
        await event("message_stop", {})
        await response.write_eof()
        return response

    @staticmethod
    def _usage(body: dict[str, Any], answer: ScriptedAnswer) -> tuple[int, int]:
        input_tokens = answer.input_tokens
        if input_tokens is None:
            input_tokens = approx_tokens(_text(body.get("system"))) + sum(
                approx_tokens(_text(m.get("content"))) + 3 for m in body["messages"]
            )
        output_tokens = answer.output_tokens if answer.output_tokens is not None else approx_tokens(answer.text)
        return input_tokens, output_tokens
