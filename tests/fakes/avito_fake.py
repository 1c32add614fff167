"""A local fake of the Avito API (OAuth, Messenger, Items) as the contract describes it.

Real paths, Bearer auth, error bodies ``{"error": {"code", "message"}}`` and limits (1000-character texts,
``limit`` ≤ 100). Tokens really expire after ``expires_in`` seconds; ``expire_all_tokens()`` simulates a
revocation mid-flow (the next calls answer 403). ``fail_next`` scripts 429/5xx answers.

    async with AvitoFake() as avito:
        client = AvitoClient(AvitoConfig(avito.base_url, avito.client_id, avito.client_secret,
                                         str(avito.user_id)), session=..., redis=...)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.server import LocalServer

TEXT_LIMIT = 1000


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    status: int = 0


@dataclass
class _Failure:
    path_substring: str
    status: int
    times: int
    retry_after: float | None
    body: Any


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message}}, status=status)


class AvitoFake(LocalServer):
    def __init__(self, *, client_id: str = "fake-client-id", client_secret: str = "fake-client-secret",
                 user_id: int = 100500, expires_in: int = 86400) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.user_id = user_id
        self.expires_in = expires_in
        self.token_delay = 0.0  # seconds /token takes to answer (widens races between processes)
        self.requests: list[RecordedRequest] = []
        self.token_calls = 0
        self.tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.chats: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}  # every message of a chat (theirs and ours)
        self.sent: dict[str, list[dict[str, Any]]] = {}  # our messages per chat, in order
        self.read_chats: list[str] = []
        self.deleted: list[tuple[str, str]] = []
        self.blacklisted: list[dict[str, Any]] = []
        self.images: dict[str, tuple[str, bytes]] = {}  # image_id -> (filename, bytes)
        self.voices: dict[str, str] = {}
        self.subscriptions: list[dict[str, Any]] = []
        self.items: dict[int, dict[str, Any]] = {}
        self.price_locked: set[int] = set()  # items whose category does not allow update_price
        self.stats: dict[int, list[dict[str, Any]]] = {}
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1)
        self._server: TestServer | None = None

    # --- lifecycle --------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/token", self._token)
        app.router.add_post("/token/", self._token)
        app.router.add_get("/messenger/v2/accounts/{user_id}/chats", self._list_chats)
        app.router.add_get("/messenger/v2/accounts/{user_id}/chats/{chat_id}", self._get_chat)
        app.router.add_get("/messenger/v3/accounts/{user_id}/chats/{chat_id}/messages/", self._get_messages)
        app.router.add_post("/messenger/v1/accounts/{user_id}/chats/{chat_id}/messages", self._send_text)
        app.router.add_post("/messenger/v1/accounts/{user_id}/uploadImages", self._upload_image)
        app.router.add_post("/messenger/v1/accounts/{user_id}/chats/{chat_id}/messages/image", self._send_image)
        app.router.add_post("/messenger/v1/accounts/{user_id}/chats/{chat_id}/messages/{message_id}",
                            self._delete_message)
        app.router.add_post("/messenger/v1/accounts/{user_id}/chats/{chat_id}/read", self._read)
        app.router.add_get("/messenger/v1/accounts/{user_id}/getVoiceFiles", self._voice_files)
        app.router.add_post("/messenger/v2/accounts/{user_id}/blacklist", self._blacklist)
        app.router.add_post("/messenger/v3/webhook", self._subscribe)
        app.router.add_post("/messenger/v1/webhook/unsubscribe", self._unsubscribe)
        app.router.add_post("/messenger/v1/subscriptions", self._subscriptions)
        app.router.add_get("/core/v1/items", self._list_items)
        app.router.add_get("/core/v1/accounts/{user_id}/items/{item_id}/", self._get_item)
        app.router.add_post("/stats/v1/accounts/{user_id}/items", self._item_stats)
        app.router.add_post("/core/v1/items/{item_id}/update_price", self._update_price)
        app.router.add_put("/core/v2/accounts/{user_id}/items/{item_id}/vas_packages", self._vas)
        return app

    def server_app(self) -> web.Application:
        return self.make_app()

    @property
    def base_url(self) -> str:
        return self.root_url

    # --- scripting --------------------------------------------------------------------------------
    def fail_next(self, path_substring: str, status: int, times: int = 1, retry_after: float | None = None,
                  body: Any = None) -> None:
        """The next ``times`` requests whose path contains ``path_substring`` answer ``status``."""
        self._failures.append(_Failure(path_substring, status, times, retry_after, body))

    def flaky(self, path_substring: str, status: int = 500, every: int = 2) -> None:
        """From now on every ``every``-th request whose path contains ``path_substring`` answers ``status``
        (every=2: half of them fail). ``flaky(..., every=0)`` stops it."""
        self._flaky = (path_substring, status, every)
        self._flaky_seen = 0

    def expire_all_tokens(self) -> None:
        self.tokens.clear()

    def add_chat(self, chat_id: str, *, item: dict[str, Any] | None = None, client_id: int = 777,
                 client_name: str = "Покупатель") -> dict[str, Any]:
        """A u2i chat; ``item`` (``id``, ``title``, ``url``, ``price_string``) becomes ``context.value``."""
        now = int(time.time())
        chat: dict[str, Any] = {
            "id": chat_id,
            "created": now,
            "updated": now,
            "users": [
                {"id": self.user_id, "name": "Агентство"},
                {"id": client_id, "name": client_name},
            ],
            "context": {"type": "item", "value": dict(item)} if item else {},
        }
        self.chats[chat_id] = chat
        self.history.setdefault(chat_id, [])
        return chat

    def add_incoming(self, chat_id: str, text: str, *, author_id: int = 777) -> dict[str, Any]:
        message = {
            "id": f"in-{next(self._ids)}", "author_id": author_id, "created": int(time.time()),
            "content": {"text": text}, "direction": "in", "type": "text", "is_read": False,
        }
        self.history.setdefault(chat_id, []).append(message)
        return message

    def add_item(self, item_id: int, title: str, price: int, *, status: str = "active",
                 category: str = "Предложение услуг", price_editable: bool = True) -> dict[str, Any]:
        item = {
            "id": item_id, "title": title, "price": price, "status": status,
            "url": f"https://www.avito.ru/moskva/predlozheniya_uslug/{item_id}",
            "category": {"id": 114, "name": category}, "address": "Москва",
        }
        self.items[item_id] = item
        if not price_editable:
            self.price_locked.add(item_id)
        return item

    def sent_texts(self, chat_id: str) -> list[str]:
        return [m["content"]["text"] for m in self.sent.get(chat_id, []) if m["type"] == "text"]

    def calls_to(self, path_substring: str) -> list[RecordedRequest]:
        return [r for r in self.requests if path_substring in r.path]

    # --- plumbing ---------------------------------------------------------------------------------
    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query={k: request.query.getall(k) for k in request.query},
            headers=dict(request.headers),
        )
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            try:
                recorded.json = json.loads(raw) if raw else None
            except ValueError:
                self.requests.append(recorded)
                recorded.status = 400
                return _error(400, "invalid json")
        elif ctype == "application/x-www-form-urlencoded":
            recorded.form = {k: str(v) for k, v in (await request.post()).items()}
        elif ctype.startswith("multipart/"):
            post = await request.post()
            for key, value in post.items():
                if isinstance(value, web.FileField):
                    recorded.files[key] = (value.filename, value.file.read())
                else:
                    recorded.form[key] = str(value)
        request["recorded"] = recorded
        self.requests.append(recorded)
        response = self._scripted_failure(request.path)
        if response is None:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
        recorded.status = response.status
        return response

    def _scripted_failure(self, path: str) -> web.Response | None:
        flaky = getattr(self, "_flaky", None)
        if flaky and flaky[2] and flaky[0] in path:
            self._flaky_seen += 1
            if self._flaky_seen % flaky[2] == 0:
                return web.json_response({"error": {"code": flaky[1], "message": "Internal server error"}},
                                         status=flaky[1])
        for failure in self._failures:
            if failure.times > 0 and failure.path_substring in path:
                failure.times -= 1
                body = failure.body if failure.body is not None else {
                    "error": {"code": failure.status, "message": "Too many requests" if failure.status == 429
                              else "Internal server error"}}
                headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else None
                return web.json_response(body, status=failure.status, headers=headers)
        return None

    def _auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return _error(401, "Authorization header is missing")
        token = header[7:].strip()
        expiry = self.tokens.get(token)
        if expiry is None or expiry <= time.monotonic():
            self.tokens.pop(token, None)
            return _error(403, "Access token is expired or invalid")
        user_id = request.match_info.get("user_id")
        if user_id is not None and user_id != str(self.user_id):
            return _error(403, "Access to this account is forbidden")
        return None

    def _chat(self, request: web.Request) -> dict[str, Any] | web.Response:
        chat = self.chats.get(request.match_info["chat_id"])
        if chat is None:
            return _error(404, "Chat not found")
        return chat

    @staticmethod
    def _limit_offset(request: web.Request) -> tuple[int, int] | web.Response:
        try:
            limit = int(request.query.get("limit", "100"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return _error(400, "limit and offset must be integers")
        if not 1 <= limit <= 100 or offset < 0:
            return _error(400, "limit must be between 1 and 100")
        return limit, offset

    # --- OAuth ------------------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        self.token_calls += 1
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        form = request["recorded"].form
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type",
                                      "error_description": "grant_type must be client_credentials"}, status=400)
        if not form.get("client_id") or not form.get("client_secret"):
            return web.json_response({"error": "invalid_request",
                                      "error_description": "client_id and client_secret are required"},
                                     status=400)
        if form["client_id"] != self.client_id or form["client_secret"] != self.client_secret:
            return web.json_response({"error": "invalid_client",
                                      "error_description": "Client authentication failed"}, status=401)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.monotonic() + self.expires_in
        return web.json_response({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})

    # --- Messenger --------------------------------------------------------------------------------
    async def _list_chats(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        lo = self._limit_offset(request)
        if isinstance(lo, web.Response):
            return lo
        limit, offset = lo
        chats = list(self.chats.values())
        item_ids = request.query.get("item_ids")
        if item_ids:
            wanted = {int(i) for i in item_ids.split(",") if i.strip()}
            chats = [c for c in chats if c.get("context", {}).get("value", {}).get("id") in wanted]
        if request.query.get("unread_only") == "true":
            chats = [c for c in chats
                     if any(m["direction"] == "in" and not m.get("is_read") for m in self.history[c["id"]])]
        return web.json_response({"chats": chats[offset:offset + limit]})

    async def _get_chat(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        chat = self._chat(request)
        return chat if isinstance(chat, web.Response) else web.json_response(chat)

    async def _get_messages(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        lo = self._limit_offset(request)
        if isinstance(lo, web.Response):
            return lo
        limit, offset = lo
        newest_first = list(reversed(self.history[chat["id"]]))
        return web.json_response(newest_first[offset:offset + limit])

    def _store_out(self, chat_id: str, msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
        message = {"id": f"out-{next(self._ids)}", "created": int(time.time()), "content": content,
                   "direction": "out", "type": msg_type, "author_id": self.user_id}
        self.history.setdefault(chat_id, []).append(message)
        self.sent.setdefault(chat_id, []).append(message)
        return {k: message[k] for k in ("id", "created", "content", "direction", "type")}

    async def _send_text(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        body = request["recorded"].json
        if not isinstance(body, dict) or body.get("type") != "text" or not isinstance(body.get("message"), dict):
            return _error(400, "body must be {\"message\": {\"text\": ...}, \"type\": \"text\"}")
        text = body["message"].get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "message.text is required")
        if len(text) > TEXT_LIMIT:
            return _error(400, f"message.text is longer than {TEXT_LIMIT} characters")
        return web.json_response(self._store_out(chat["id"], "text", {"text": text}))

    async def _upload_image(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        files = request["recorded"].files
        if "uploadfile[]" not in files:
            return _error(400, "multipart field uploadfile[] is required")
        filename, data = files["uploadfile[]"]
        if not data:
            return _error(400, "empty file")
        image_id = f"{next(self._ids)}.{secrets.token_hex(8)}"
        self.images[image_id] = (filename, data)
        base = f"https://img.avito.st/image/{image_id}"
        return web.json_response({image_id: {"640x480": f"{base}/640x480", "1280x960": f"{base}/1280x960"}})

    async def _send_image(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        body = request["recorded"].json
        image_id = body.get("image_id") if isinstance(body, dict) else None
        if not image_id or image_id not in self.images:
            return _error(400, "unknown image_id")
        return web.json_response(self._store_out(chat["id"], "image", {"image": {"id": image_id}}))

    async def _delete_message(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        message_id = request.match_info["message_id"]
        if not any(m["id"] == message_id and m["direction"] == "out" for m in self.history[chat["id"]]):
            return _error(404, "Message not found")
        self.deleted.append((chat["id"], message_id))
        return web.json_response({})

    async def _read(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        chat = self._chat(request)
        if isinstance(chat, web.Response):
            return chat
        for message in self.history[chat["id"]]:
            message["is_read"] = True
        self.read_chats.append(chat["id"])
        return web.json_response({"ok": True})

    async def _voice_files(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        ids = request.query.getall("voice_ids", [])
        if not ids:
            return _error(400, "voice_ids is required")
        return web.json_response({"voices_urls": {v: self.voices[v] for v in ids if v in self.voices}})

    async def _blacklist(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = request["recorded"].json
        users = body.get("users") if isinstance(body, dict) else None
        if not isinstance(users, list) or not users:
            return _error(400, "users is required")
        self.blacklisted.extend(users)
        return web.json_response({})

    async def _subscribe(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = request["recorded"].json
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith("https://"):
            return _error(400, "url must be an https URL")
        if not any(s["url"] == url for s in self.subscriptions):
            self.subscriptions.append({"url": url, "version": "3"})
        return web.json_response({"ok": True})

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = request["recorded"].json
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str):
            return _error(400, "url is required")
        self.subscriptions = [s for s in self.subscriptions if s["url"] != url]
        return web.json_response({"ok": True})

    async def _subscriptions(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        return web.json_response({"subscriptions": list(self.subscriptions)})

    # --- Items ------------------------------------------------------------------------------------
    async def _list_items(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        try:
            per_page = int(request.query.get("per_page", "25"))
            page = int(request.query.get("page", "1"))
        except ValueError:
            return _error(400, "page and per_page must be integers")
        if not 1 <= per_page <= 100 or page < 1:
            return _error(400, "per_page must be between 1 and 100")
        status = request.query.get("status", "active")
        wanted = set(status.split(","))
        items = [i for i in self.items.values() if i["status"] in wanted]
        start = (page - 1) * per_page
        resources = [{k: i[k] for k in ("id", "title", "price", "url", "status", "category")}
                     for i in items[start:start + per_page]]
        return web.json_response({"meta": {"page": page, "per_page": per_page}, "resources": resources})

    async def _get_item(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        item = self.items.get(int(request.match_info["item_id"]))
        if item is None:
            return _error(404, "Item not found")
        return web.json_response({"status": item["status"], "url": item["url"], "vas": [],
                                  "start_time": "2024-01-01T00:00:00Z", "finish_time": None})

    async def _item_stats(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = request["recorded"].json
        if not isinstance(body, dict) or not all(k in body for k in ("dateFrom", "dateTo", "itemIds")):
            return _error(400, "dateFrom, dateTo and itemIds are required")
        if not isinstance(body["itemIds"], list) or not body["itemIds"] or len(body["itemIds"]) > 200:
            return _error(400, "itemIds must hold 1 to 200 ids")
        fields = body.get("fields") or ["uniqViews", "uniqContacts", "uniqFavorites"]
        items = []
        for item_id in body["itemIds"]:
            days = self.stats.get(int(item_id), [])
            stats = [{"date": d["date"], **{f: d.get(f, 0) for f in fields}} for d in days
                     if body["dateFrom"] <= d["date"] <= body["dateTo"]]
            items.append({"itemId": int(item_id), "stats": stats})
        return web.json_response({"result": {"items": items}})

    async def _update_price(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        item_id = int(request.match_info["item_id"])
        item = self.items.get(item_id)
        if item is None:
            return _error(404, "Item not found")
        body = request["recorded"].json
        price = body.get("price") if isinstance(body, dict) else None
        if not isinstance(price, int) or isinstance(price, bool) or price <= 0:
            return _error(400, "price must be a positive integer")
        if item_id in self.price_locked:
            return _error(400, "Price update is not available for this category")
        item["price"] = price
        return web.json_response({"result": {"success": True}})

    async def _vas(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        return _error(400, "VAS is not simulated by the fake: it spends money")
