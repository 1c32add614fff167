"""Admin JSON API under ``/api/v1/admin`` (JWT HS256 Bearer; the admin pages' cookie works too, with a CSRF header
for writes). ``POST /api/v1/admin/token`` {"username", "password"} → {"access_token", "token_type", "expires_in"}.

Leads and conversations, take over / give back / write as manager, knowledge-base documents, prices and
coefficients with history, document templates with an HTML preview, payments, bookings, events, logs, failed jobs,
configured integrations, analytics, document downloads.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from sqlmodel import Session

from db.models import Document
from db.models_ops import AdminAudit
from pipelines import analytics
from pipelines.admin import kb as kb_admin
from pipelines.admin import leads as leads_admin
from pipelines.admin import prices as prices_admin
from pipelines.admin import templates as templates_admin
from pipelines.admin.paging import PageRequest, choice_param, int_param
from pipelines.admin.system import integrations, log_tail
from pipelines.document.storage import absolute_path
from pipelines.knowledge.embedders import make_embedder
from voronka.errors import NotFound, PayloadTooLarge, Unauthorized, ValidationError
from voronka.vocabulary import CHANNELS, PRODUCTS, RECOMMENDED_PACKAGE, STAGES, Product
from web import keys
from web.admin import deps
from web.admin.auth import LOGIN_GUARD, authenticate, issue_token
from web.admin.deps import api_auth, audit, claims_of, in_session
from web.jsonutil import json_response
from web.ratelimit import request_ip

PREFIX = "/api/v1/admin"
MAX_JSON_BYTES = 64 * 1024


async def read_body(request: web.Request) -> dict[str, Any]:
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLarge("Слишком большой запрос")
    try:
        body = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationError("Тело запроса должно быть корректным JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ValidationError("Ожидается JSON-объект", code="invalid_json")
    return body


def _str(body: dict[str, Any], name: str, *, max_length: int = 256, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_length:
        raise ValidationError(f"{name}: строка до {max_length} символов", field=name)
    return value


def _id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise NotFound("Не найдено")
    return int(raw)


async def login(request: web.Request, username: str, password: str) -> tuple[str, int]:
    """Check the brute-force guard, then the password. Returns (token, expires_in) or raises 401/429."""
    guard = request.app[LOGIN_GUARD]
    ip = request_ip(request)
    await guard.check(username, ip)

    def check(session: Session) -> tuple[str, int] | None:
        user = authenticate(session, username, password)
        if user is None:
            return None
        session.add(_audit_row(user.username, "login", ip))
        return issue_token(request.app[keys.SETTINGS], user)

    issued = await in_session(request, check, commit=True)
    if issued is None:
        await guard.failed(username, ip)
        raise Unauthorized("Неверный логин или пароль", code="invalid_credentials")
    await guard.succeeded(username)
    return issued


def _audit_row(username: str, action: str, target: str) -> AdminAudit:
    return AdminAudit(username=username, action=action, target=target)


async def post_token(request: web.Request) -> web.Response:
    body = await read_body(request)
    username = _str(body, "username", max_length=64)
    password = _str(body, "password", max_length=1024)
    token, expires_in = await login(request, username, password)
    return json_response({"access_token": token, "token_type": "bearer", "expires_in": expires_in},
                         headers={"Cache-Control": "no-store"})


@api_auth
async def get_me(request: web.Request) -> web.Response:
    claims = claims_of(request)
    return json_response({"username": claims.username, "role": claims.role,
                          "expires_at": datetime.fromtimestamp(claims.expires_at, UTC).isoformat()})


# --- leads -------------------------------------------------------------------------------------------------------
def lead_filter(query: Any) -> leads_admin.LeadFilter:
    hold = query.get("hold")
    if hold not in (None, "", "1", "0", "true", "false"):
        raise ValidationError("hold: 1 или 0", field="hold")
    search = query.get("q") or None
    if search is not None and len(search) > 100:
        raise ValidationError("q: до 100 символов", field="q")
    return leads_admin.LeadFilter(
        stage=choice_param(query, "stage", STAGES),
        channel=choice_param(query, "channel", CHANNELS),
        hold=None if hold in (None, "") else hold in ("1", "true"),
        search=search)


@api_auth
async def get_leads(request: web.Request) -> web.Response:
    flt, page = lead_filter(request.query), PageRequest.parse(request.query)
    return json_response(await in_session(request, leads_admin.list_leads, flt, page))


@api_auth
async def get_lead(request: web.Request) -> web.Response:
    return json_response(await in_session(request, leads_admin.lead_detail, _id(request)))


async def do_take_over(request: web.Request, lead_id: int) -> bool:
    claims = claims_of(request)

    def work(session: Session) -> bool:
        changed = leads_admin.take_over(session, lead_id, by=claims.username)
        audit(session, claims, "take_over", f"lead:{lead_id}")
        return changed

    return await in_session(request, work, commit=True)


async def do_give_back(request: web.Request, lead_id: int) -> bool:
    claims = claims_of(request)

    def work(session: Session) -> bool:
        changed = leads_admin.give_back_to_bot(session, lead_id, by=claims.username)
        audit(session, claims, "give_back", f"lead:{lead_id}")
        return changed

    return await in_session(request, work, commit=True)


async def do_write(request: web.Request, lead_id: int, text: str, *, conversation_id: int | None,
                   idempotency_key: str | None) -> leads_admin.ManagerMessage:
    claims = claims_of(request)
    settings = request.app[keys.SETTINGS]

    def work(session: Session) -> leads_admin.ManagerMessage:
        result = leads_admin.write_as_manager(session, lead_id, text, by=claims.username,
                                              max_length=settings.MAX_MESSAGE_LENGTH,
                                              conversation_id=conversation_id, idempotency_key=idempotency_key)
        if not result.duplicate:
            audit(session, claims, "manager_message", f"lead:{lead_id}", message_id=result.message_id)
        return result

    result = await in_session(request, work, commit=True)
    if result.outbox_id is not None:
        await request.app[keys.ENQUEUER].enqueue_async("outbox.deliver", result.outbox_id, lead_id=lead_id)
    return result


@api_auth
async def post_take_over(request: web.Request) -> web.Response:
    lead_id = _id(request)
    changed = await do_take_over(request, lead_id)
    return json_response({"lead_id": lead_id, "manager_hold": True, "changed": changed})


@api_auth
async def post_give_back(request: web.Request) -> web.Response:
    lead_id = _id(request)
    changed = await do_give_back(request, lead_id)
    return json_response({"lead_id": lead_id, "manager_hold": False, "changed": changed})


@api_auth
async def post_message(request: web.Request) -> web.Response:
    lead_id = _id(request)
    body = await read_body(request)
    text = _str(body, "text", max_length=request.app[keys.SETTINGS].MAX_MESSAGE_LENGTH)
    conversation_id = body.get("conversation_id")
    if conversation_id is not None and (not isinstance(conversation_id, int) or isinstance(conversation_id, bool)
                                        or conversation_id < 1):
        raise ValidationError("conversation_id: положительное целое", field="conversation_id")
    key = body.get("client_message_id")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 64):
        raise ValidationError("client_message_id: строка 1–64 символа", field="client_message_id")
    result = await do_write(request, lead_id, text, conversation_id=conversation_id, idempotency_key=key)
    return json_response({"message_id": result.message_id, "conversation_id": result.conversation_id,
                          "channel": result.channel, "duplicate": result.duplicate},
                         status=200 if result.duplicate else 201)


# --- lists -------------------------------------------------------------------------------------------------------
@api_auth
async def get_payments(request: web.Request) -> web.Response:
    status = choice_param(request.query, "status", ("new", "pending", "succeeded", "canceled", "expired"))
    return json_response(await in_session(request, leads_admin.list_payments, PageRequest.parse(request.query),
                                          status=status))


@api_auth
async def get_bookings(request: web.Request) -> web.Response:
    status = choice_param(request.query, "status", ("confirmed", "cancelled"))
    return json_response(await in_session(request, leads_admin.list_bookings, PageRequest.parse(request.query),
                                          status=status))


@api_auth
async def get_events(request: web.Request) -> web.Response:
    kind = request.query.get("kind") or None
    if kind is not None and len(kind) > 48:
        raise ValidationError("kind: до 48 символов", field="kind")
    lead_id = int_param(request.query, "lead_id", 0, minimum=0, maximum=10**12) or None
    return json_response(await in_session(request, leads_admin.list_events, PageRequest.parse(request.query),
                                          kind=kind, lead_id=lead_id))


@api_auth
async def get_failed_jobs(request: web.Request) -> web.Response:
    return json_response(await in_session(request, leads_admin.list_failed_jobs, PageRequest.parse(request.query)))


@api_auth
async def get_logs(request: web.Request) -> web.Response:
    page = PageRequest.parse(request.query, default_per_page=100)
    level = choice_param(request.query, "level", ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    result = await asyncio.to_thread(log_tail, request.app[keys.SETTINGS], page=page.page, per_page=page.per_page,
                                     level=level)
    return json_response(result)


@api_auth
async def get_integrations(request: web.Request) -> web.Response:
    return json_response({"integrations": integrations(request.app[keys.SETTINGS])})


# --- analytics ---------------------------------------------------------------------------------------------------
def parse_period(query: Any) -> analytics.Period:
    days = int_param(query, "days", 30, minimum=1, maximum=3660)
    raw_from, raw_to = query.get("from"), query.get("to")
    if not raw_from and not raw_to:
        return analytics.Period.last_days(days)
    try:
        since = datetime.combine(date.fromisoformat(raw_from), datetime.min.time(), UTC) if raw_from else None
        until = (datetime.combine(date.fromisoformat(raw_to), datetime.min.time(), UTC) + timedelta(days=1)
                 if raw_to else datetime.now(UTC))
    except ValueError:
        raise ValidationError("from/to: даты в формате ГГГГ-ММ-ДД", field="from") from None
    if since is None:
        since = until - timedelta(days=days)
    if since >= until:
        raise ValidationError("from должен быть раньше to", field="from")
    return analytics.Period(since, until)


@api_auth
async def get_analytics(request: web.Request) -> web.Response:
    period = parse_period(request.query)
    return json_response(await in_session(request, analytics.report, period))


# --- knowledge base ----------------------------------------------------------------------------------------------
def kb_dir(app: web.Application) -> Path:
    return app[keys.KNOWLEDGE_BASE].path


async def kb_call(request: web.Request, fn: Any, *args: Any) -> Any:
    """A knowledge-base change with the configured embedder, serialised per process (ingest also locks in SQL)."""
    async with request.app[keys.KNOWLEDGE_BASE].lock:
        embedder = make_embedder(request.app[keys.SETTINGS])
        try:
            return await in_session(request, fn, *args, embedder=embedder)
        finally:
            close = getattr(embedder, "close", None)
            if close is not None:
                close()


@api_auth
async def get_kb_documents(request: web.Request) -> web.Response:
    retired = request.query.get("retired") in ("1", "true")
    return json_response({"items": await in_session(request, kb_admin.list_documents, include_retired=retired),
                          "folder": str(kb_dir(request.app))})


@api_auth
async def get_kb_document(request: web.Request) -> web.Response:
    return json_response(await in_session(request, kb_admin.document_history, _id(request)))


@api_auth
async def get_kb_history(request: web.Request) -> web.Response:
    return json_response({"items": await in_session(request, kb_admin.history)})


async def read_upload(request: web.Request) -> tuple[str, bytes, str | None]:
    if not request.content_type.startswith("multipart/"):
        raise ValidationError("Загрузите файл как multipart/form-data (поле file)", field="file")
    reader = await request.multipart()
    filename, data, folder = None, b"", None
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            filename = part.filename or ""
            chunks = []
            size = 0
            while chunk := await part.read_chunk(65536):
                size += len(chunk)
                if size > kb_admin.MAX_UPLOAD_BYTES:
                    raise PayloadTooLarge("Файл больше 10 МБ", field="file")
                chunks.append(chunk)
            data = b"".join(chunks)
        elif part.name == "folder":
            folder = (await part.text()).strip() or None
    if not filename:
        raise ValidationError("Нет файла (поле file)", field="file")
    return filename, data, folder


@api_auth
async def post_kb_document(request: web.Request) -> web.Response:
    filename, data, folder = await read_upload(request)
    claims = claims_of(request)
    folder_path = kb_dir(request.app)

    def work(session: Session, *, embedder: Any) -> dict[str, Any]:
        result = kb_admin.upload(session, folder_path, filename, data, folder=folder, embedder=embedder)
        audit(session, claims, "kb_upload", filename)
        session.commit()
        return result

    return json_response(await kb_call(request, work), status=201)


@api_auth
async def delete_kb_document(request: web.Request) -> web.Response:
    doc_id = _id(request)
    claims = claims_of(request)
    folder_path = kb_dir(request.app)

    def work(session: Session, *, embedder: Any) -> dict[str, Any]:
        result = kb_admin.delete(session, folder_path, doc_id, embedder=embedder)
        audit(session, claims, "kb_delete", f"kb:{doc_id}")
        session.commit()
        return result

    return json_response(await kb_call(request, work))


@api_auth
async def post_kb_reingest(request: web.Request) -> web.Response:
    claims = claims_of(request)
    folder_path = kb_dir(request.app)

    def work(session: Session, *, embedder: Any) -> dict[str, Any]:
        result = kb_admin.reingest(session, folder_path, embedder=embedder)
        audit(session, claims, "kb_reingest")
        session.commit()
        return result

    return json_response(await kb_call(request, work))


# --- prices ------------------------------------------------------------------------------------------------------
@api_auth
async def get_prices(request: web.Request) -> web.Response:
    return json_response(await in_session(request, prices_admin.price_list))


@api_auth
async def get_price_history(request: web.Request) -> web.Response:
    limit = int_param(request.query, "limit", 100, minimum=1, maximum=1000)
    return json_response({"items": await in_session(request, prices_admin.history, limit)})


def _decimal_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float | str) or len(str(value)) > 20:
        raise ValidationError("Значение должно быть числом.", field=name)
    return str(value).replace(",", ".").replace(" ", "").replace("\u00a0", "")


async def change_price(request: web.Request, entity: str, a: str, b: str, value: str,
                       comment: str) -> None:
    claims = claims_of(request)
    deps.admin_only(claims)

    def work(session: Session) -> None:
        prices_admin.change_price(session, entity, a, b, value, by=claims.username, comment=comment)
        audit(session, claims, f"price_{entity}", f"{a}/{b}", value=value)

    await in_session(request, work, commit=True)
    request.app[keys.RATES].clear()  # the quote API's per-process cache


@api_auth
async def put_rate(request: web.Request) -> web.Response:
    body = await read_body(request)
    await change_price(request, "rate", request.match_info["product"], request.match_info["package"],
                       _decimal_field(body, "base_price"), _str(body, "comment", max_length=500, required=False))
    return json_response(await in_session(request, prices_admin.price_list))


@api_auth
async def put_coefficient(request: web.Request) -> web.Response:
    body = await read_body(request)
    await change_price(request, "coefficient", request.match_info["param"], request.match_info["key"],
                       _decimal_field(body, "value"), _str(body, "comment", max_length=500, required=False))
    return json_response(await in_session(request, prices_admin.price_list))


# --- templates ---------------------------------------------------------------------------------------------------
@api_auth
async def get_templates(request: web.Request) -> web.Response:
    return json_response({"items": [{"kind": k, "title": t, "preview": f"{PREFIX}/templates/{k}/preview"}
                                    for k, t in templates_admin.TEMPLATE_TITLES.items()]})


@api_auth
async def get_template_preview(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    product = choice_param(request.query, "product", PRODUCTS) or Product.AI_LAWYER
    package = request.query.get("package") or RECOMMENDED_PACKAGE
    html = await in_session(request, templates_admin.preview_page, kind, product, package,
                            request.app[keys.SETTINGS])
    return web.Response(text=html, content_type="text/html", headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:",
        "Cache-Control": "no-store"})


# --- documents ---------------------------------------------------------------------------------------------------
async def document_file(request: web.Request, document_id: int) -> web.StreamResponse:
    def load(session: Session) -> Document | None:
        return session.get(Document, document_id)

    document = await in_session(request, load)
    if document is None:
        raise NotFound("Документ не найден")
    path = absolute_path(request.app[keys.SETTINGS].documents_dir, document)
    if not path.exists():
        raise NotFound("Файл документа не найден")
    return web.FileResponse(path, headers={"Content-Type": "application/pdf",
                                           "Content-Disposition": f"inline; filename=\"{path.name}\"",
                                           "Cache-Control": "private, no-store"})


@api_auth
async def get_document_file(request: web.Request) -> web.StreamResponse:
    return await document_file(request, _id(request))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{PREFIX}/token", post_token)
    r.add_get(f"{PREFIX}/me", get_me)
    r.add_get(f"{PREFIX}/leads", get_leads)
    r.add_get(f"{PREFIX}/leads/{{id}}", get_lead)
    r.add_post(f"{PREFIX}/leads/{{id}}/take-over", post_take_over)
    r.add_post(f"{PREFIX}/leads/{{id}}/give-back", post_give_back)
    r.add_post(f"{PREFIX}/leads/{{id}}/messages", post_message)
    r.add_get(f"{PREFIX}/conversations", get_leads)  # conversations are listed per lead, across channels
    r.add_get(f"{PREFIX}/payments", get_payments)
    r.add_get(f"{PREFIX}/bookings", get_bookings)
    r.add_get(f"{PREFIX}/events", get_events)
    r.add_get(f"{PREFIX}/logs", get_logs)
    r.add_get(f"{PREFIX}/failed-jobs", get_failed_jobs)
    r.add_get(f"{PREFIX}/integrations", get_integrations)
    r.add_get(f"{PREFIX}/analytics", get_analytics)
    r.add_get(f"{PREFIX}/kb/documents", get_kb_documents)
    r.add_post(f"{PREFIX}/kb/documents", post_kb_document)
    r.add_get(f"{PREFIX}/kb/documents/{{id}}", get_kb_document)
    r.add_delete(f"{PREFIX}/kb/documents/{{id}}", delete_kb_document)
    r.add_get(f"{PREFIX}/kb/history", get_kb_history)
    r.add_post(f"{PREFIX}/kb/reingest", post_kb_reingest)
    r.add_get(f"{PREFIX}/prices", get_prices)
    r.add_get(f"{PREFIX}/prices/history", get_price_history)
    r.add_put(f"{PREFIX}/prices/rates/{{product}}/{{package}}", put_rate)
    r.add_put(f"{PREFIX}/prices/coefficients/{{param}}/{{key}}", put_coefficient)
    r.add_get(f"{PREFIX}/templates", get_templates)
    r.add_get(f"{PREFIX}/templates/{{kind}}/preview", get_template_preview)
    r.add_get(f"{PREFIX}/documents/{{id}}/file", get_document_file)
