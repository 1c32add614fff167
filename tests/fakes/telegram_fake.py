"""A local fake of the Telegram Bot API: ``/bot<token>/<method>`` with JSON, urlencoded and multipart bodies.

Answers as Telegram does (``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code", "description",
"parameters"}``), enforces the limits the contract names (4096-character texts counted in UTF-16 units,
64-byte ``callback_data``, 1024-character captions, 50 MB documents, the ``secret_token`` charset) and records
every call. Scriptable: ``fail_next`` (e.g. 429 with ``retry_after``) and ``block_chat`` (403 "bot was blocked").

    async with TelegramFake() as tg:
        bot = make_bot(tg.token, tg.base_url)
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.server import LocalServer

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
DOCUMENT_LIMIT = 50 * 1024 * 1024
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "caption_entities", "link_preview_options",
               "reply_parameters"}
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Fail(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


@dataclass
class TgCall:
    method: str  # as Telegram names it, e.g. "sendMessage"
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    content_type: str = ""
    status: int = 0


@dataclass
class _Script:
    method: str
    status: int
    times: int
    retry_after: int | None
    chat_id: int | str | None
    description: str | None


class TelegramFake(LocalServer):
    def __init__(self, token: str = "123456789:AAFakeTokenForTests_0123456789abcdef",
                 username: str = "voronka_test_bot") -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.calls: list[TgCall] = []
        self.messages: dict[int | str, list[dict[str, Any]]] = {}  # sent messages per chat, in order
        self.documents: list[dict[str, Any]] = []
        self.chat_actions: list[tuple[int | str, str]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.blocked: set[int | str] = set()
        self.webhook: dict[str, Any] = {}
        self.pending_update_count = 0
        self._scripts: list[_Script] = []
        self._ids = itertools.count(1)
        self._server: TestServer | None = None

    # --- lifecycle --------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=DOCUMENT_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        return app

    def server_app(self) -> web.Application:
        return self.make_app()

    @property
    def base_url(self) -> str:
        return self.root_url

    # --- scripting --------------------------------------------------------------------------------
    def fail_next(self, method: str, status: int = 429, *, times: int = 1, retry_after: int | None = None,
                  chat_id: int | str | None = None, description: str | None = None) -> None:
        """The next ``times`` calls of ``method`` (for ``chat_id`` when given) answer ``status``."""
        self._scripts.append(_Script(method.lower(), status, times, retry_after, chat_id, description))

    def block_chat(self, chat_id: int | str) -> None:
        self.blocked.add(chat_id)

    def calls_of(self, method: str) -> list[TgCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def texts(self, chat_id: int | str) -> list[str]:
        return [m["text"] for m in self.messages.get(chat_id, []) if "text" in m]

    # --- plumbing ---------------------------------------------------------------------------------
    async def _parse(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str, bytes]] = {}
        if request.method == "POST":
            ctype = request.content_type
            if ctype == "application/json":
                raw = await request.read()
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise _Fail(400, "Bad Request: can't parse JSON object") from None
                    if not isinstance(body, dict):
                        raise _Fail(400, "Bad Request: JSON object expected")
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                post = await request.post()
                for key, value in post.items():
                    if isinstance(value, web.FileField):
                        files[key] = (value.filename, value.file.read())
                    elif key in JSON_FIELDS:
                        try:
                            params[key] = json.loads(str(value))
                        except ValueError:
                            raise _Fail(400, f"Bad Request: can't parse {key} JSON object") from None
                    else:
                        params[key] = str(value)
        if "chat_id" in params:
            params["chat_id"] = self._chat_id(params["chat_id"])
        return params, files

    @staticmethod
    def _chat_id(value: Any) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text.startswith("@") and len(text) > 1:
            return text
        raise _Fail(400, "Bad Request: chat not found")

    def _scripted(self, method: str, params: dict[str, Any]) -> _Fail | None:
        for script in self._scripts:
            if script.times <= 0 or script.method != method.lower():
                continue
            if script.chat_id is not None and params.get("chat_id") != script.chat_id:
                continue
            script.times -= 1
            if script.status == 429:
                after = script.retry_after if script.retry_after is not None else 1
                return _Fail(429, script.description or f"Too Many Requests: retry after {after}",
                             {"retry_after": after})
            if script.status == 403:
                return _Fail(403, script.description or "Forbidden: bot was blocked by the user")
            default = "Internal Server Error" if script.status >= 500 else "Bad Request"
            return _Fail(script.status, script.description or default)
        return None

    async def _dispatch(self, request: web.Request) -> web.Response:
        method_name = request.match_info["method"]
        call = TgCall(method=method_name, params={}, content_type=request.content_type)
        self.calls.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise _Fail(401, "Unauthorized")
            call.params, call.files = await self._parse(request)
            handler = getattr(self, f"_m_{method_name.lower()}", None)
            if handler is None:
                raise _Fail(404, "Not Found")
            failure = self._scripted(method_name, call.params)
            if failure is not None:
                raise failure
            result = handler(call.params, call.files)
        except _Fail as fail:
            call.status = fail.status
            body: dict[str, Any] = {"ok": False, "error_code": fail.status, "description": fail.description}
            if fail.parameters:
                body["parameters"] = fail.parameters
            return web.json_response(body, status=fail.status)
        call.status = 200
        answer: dict[str, Any] = {"ok": True, "result": result}
        if isinstance(result, tuple):
            answer = {"ok": True, "result": result[0], "description": result[1]}
        return web.json_response(answer)

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Воронка", "username": self.username}

    def _target_chat(self, params: dict[str, Any]) -> int | str:
        if "chat_id" not in params or params["chat_id"] in ("", None):
            raise _Fail(400, "Bad Request: chat_id is empty")
        chat_id = params["chat_id"]
        if chat_id in self.blocked:
            raise _Fail(403, "Forbidden: bot was blocked by the user")
        return chat_id

    @staticmethod
    def _check_markup(markup: Any) -> None:
        if markup is None:
            return
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _Fail(400, "Bad Request: can't parse inline keyboard button: InlineKeyboardButton expected")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _Fail(400, "Bad Request: can't parse inline keyboard button: Text buttons are "
                                     "unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise _Fail(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise _Fail(400, "Bad Request: can't parse inline keyboard button: exactly one of the "
                                     "optional fields must be used")

    def _message(self, chat_id: int | str, **content: Any) -> dict[str, Any]:
        chat = {"id": chat_id, "type": "private"} if isinstance(chat_id, int) and chat_id > 0 else \
            {"id": chat_id if isinstance(chat_id, int) else -1001000000000, "type": "supergroup", "title": "Чат"}
        message = {"message_id": next(self._ids), "date": int(time.time()), "chat": chat, "from": self._bot_user(),
                   **{k: v for k, v in content.items() if v is not None}}
        self.messages.setdefault(chat_id, []).append(message)
        return message

    @staticmethod
    def _check_parse_mode(params: dict[str, Any]) -> None:
        mode = params.get("parse_mode")
        if mode not in (None, "", "HTML", "Markdown", "MarkdownV2"):
            raise _Fail(400, f"Bad Request: unsupported parse_mode \"{mode}\"")

    # --- methods ----------------------------------------------------------------------------------
    def _m_getme(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _m_sendmessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = self._target_chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _Fail(400, "Bad Request: message text is empty")
        if _utf16(text) > TEXT_LIMIT:
            raise _Fail(400, "Bad Request: message is too long")
        self._check_parse_mode(params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        return self._message(chat_id, text=text, reply_markup=markup)

    def _m_senddocument(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = self._target_chat(params)
        document = params.get("document")
        if isinstance(document, str) and document.startswith("attach://"):
            upload = files.get(document[len("attach://"):])
        else:
            upload = files.get("document")
        if upload is None:
            if not document:
                raise _Fail(400, "Bad Request: there is no document in the request")
            upload = (None, b"")  # a file_id or URL: Telegram would fetch it
        filename, data = upload
        if len(data) > DOCUMENT_LIMIT:
            raise _Fail(413, "Request Entity Too Large")
        if upload[0] is not None and not data:
            raise _Fail(400, "Bad Request: file must be non-empty")
        caption = params.get("caption")
        if caption is not None and _utf16(str(caption)) > CAPTION_LIMIT:
            raise _Fail(400, "Bad Request: message caption is too long")
        self._check_parse_mode(params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        self.documents.append({"chat_id": chat_id, "filename": filename, "data": data, "caption": caption})
        doc = {"file_id": f"BQACAgIAAx{next(self._ids)}", "file_unique_id": f"AgAD{len(self.documents)}",
               "file_name": filename, "file_size": len(data)}
        return self._message(chat_id, document=doc, caption=caption, reply_markup=markup)

    def _m_sendchataction(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = self._target_chat(params)
        action = params.get("action")
        if action not in CHAT_ACTIONS:
            raise _Fail(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat_id, str(action)))
        return True

    def _m_answercallbackquery(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        query_id = params.get("callback_query_id")
        if not query_id:
            raise _Fail(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if any(a["callback_query_id"] == str(query_id) for a in self.callback_answers):
            raise _Fail(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _Fail(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers.append({"callback_query_id": str(query_id), "text": text,
                                      "show_alert": params.get("show_alert") in (True, "true", "True")})
        return True

    def _m_editmessagereplymarkup(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = self._target_chat(params)
        try:
            message_id = int(params.get("message_id", 0))
        except (TypeError, ValueError):
            raise _Fail(400, "Bad Request: message to edit not found") from None
        message = next((m for m in self.messages.get(chat_id, []) if m["message_id"] == message_id), None)
        if message is None:
            raise _Fail(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        self._check_markup(markup)
        if markup == message.get("reply_markup") or (not markup and not message.get("reply_markup")):
            raise _Fail(400, "Bad Request: message is not modified: specified new message content and reply "
                             "markup are exactly the same as a current content and reply markup of the message")
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return message

    def _m_setwebhook(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        if not url:
            self.webhook = {}
            return True, "Webhook was deleted"
        if not url.startswith("https://"):
            raise _Fail(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_RE.match(str(secret)):
            raise _Fail(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self.pending_update_count = 0
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        return True, "Webhook was set"

    def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self.pending_update_count = 0
        was = bool(self.webhook)
        self.webhook = {}
        return True, "Webhook was deleted" if was else "Webhook is already deleted"

    def _m_getwebhookinfo(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        info: dict[str, Any] = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": self.pending_update_count}
        if self.webhook:
            info["max_connections"] = 40
            info["ip_address"] = "127.0.0.1"
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info
