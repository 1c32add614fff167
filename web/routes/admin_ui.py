"""Admin pages under ``/admin`` (server-rendered Jinja2, Russian): login, leads, one lead's conversation across
channels with take over / give back / write as manager, knowledge base, prices, templates, payments and bookings,
analytics (charts drawn locally), operations (queue counts, failed jobs, integrations; the queue dashboard itself
is ``admin_queues``).

The login puts the JWT in an HttpOnly, SameSite=Strict cookie; every form carries the token's CSRF value.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlmodel import Session

from pipelines.admin import kb as kb_admin
from pipelines.admin import leads as leads_admin
from pipelines.admin import prices as prices_admin
from pipelines.admin.paging import PageRequest
from pipelines.admin.system import integrations
from pipelines.admin.templates import TEMPLATE_TITLES
from voronka.errors import RateLimited, Unauthorized, VoronkaError
from voronka.vocabulary import PACKAGES, PRODUCTS, RECOMMENDED_PACKAGE, Product
from web import keys
from web.admin.deps import COOKIE_NAME, claims_of, in_session
from web.admin.pages import JINJA, environment, redirect_back, render, ui_auth
from web.routes import admin_api
from web.routes.admin_queues import queue_counts, queue_url


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin/leads"


# --- login -------------------------------------------------------------------------------------------------------
async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", next=_safe_next(request.query.get("next")), message=None, username="")


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:1024]
    target = _safe_next(str(form.get("next", "")))
    try:
        if not username.strip() or not password:
            raise Unauthorized("Введите логин и пароль")
        token, expires_in = await admin_api.login(request, username, password)
    except RateLimited as exc:
        minutes = max(1, int(exc.retry_after // 60 + 1))
        response = render(request, "login.html", status=429, next=target, username=username,
                          message=f"Слишком много неудачных попыток. Попробуйте через {minutes} мин.")
        response.headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        return response
    except Unauthorized as exc:
        return render(request, "login.html", status=401, next=target, username=username, message=exc.message)
    response = web.HTTPFound(target)
    secure = request.app[keys.SETTINGS].public_url.startswith("https://")
    response.set_cookie(COOKIE_NAME, token, max_age=expires_in, httponly=True, samesite="Strict", secure=secure,
                        path="/")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPFound("/admin/login")
    response.del_cookie(COOKIE_NAME, path="/")
    raise response


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/leads")


# --- leads -------------------------------------------------------------------------------------------------------
@ui_auth
async def leads_page(request: web.Request) -> web.Response:
    try:
        flt = admin_api.lead_filter(request.query)
        page = PageRequest.parse(request.query, default_per_page=30)
    except VoronkaError:
        flt, page = leads_admin.LeadFilter(), PageRequest(1, 30)
    result = await in_session(request, leads_admin.list_leads, flt, page)
    params = {k: v for k, v in request.query.items() if k in ("stage", "channel", "hold", "q") and v}
    return render(request, "leads.html", result=result, flt=flt, params=params, active="leads",
                  page_url=lambda n: "/admin/leads?" + urlencode({**params, "page": n}))


@ui_auth
async def lead_page(request: web.Request) -> web.Response:
    lead_id = admin_api._id(request)
    detail = await in_session(request, leads_admin.lead_detail, lead_id)
    return render(request, "lead.html", d=detail, active="leads", nonce=secrets.token_urlsafe(12))


@ui_auth
async def lead_take_over(request: web.Request) -> web.StreamResponse:
    lead_id = admin_api._id(request)
    await admin_api.do_take_over(request, lead_id)
    raise redirect_back(f"/admin/leads/{lead_id}", ok="taken")


@ui_auth
async def lead_give_back(request: web.Request) -> web.StreamResponse:
    lead_id = admin_api._id(request)
    await admin_api.do_give_back(request, lead_id)
    raise redirect_back(f"/admin/leads/{lead_id}", ok="returned")


@ui_auth
async def lead_message(request: web.Request) -> web.StreamResponse:
    lead_id = admin_api._id(request)
    form = request["form"]
    raw_conv = str(form.get("conversation_id", "") or "")
    conversation_id = int(raw_conv) if raw_conv.isascii() and raw_conv.isdigit() else None
    nonce = str(form.get("nonce", "") or "")[:64] or None
    try:
        result = await admin_api.do_write(request, lead_id, str(form.get("text", "")),
                                          conversation_id=conversation_id,
                                          idempotency_key=nonce)
    except VoronkaError as exc:
        raise redirect_back(f"/admin/leads/{lead_id}", error=exc.message) from None
    raise redirect_back(f"/admin/leads/{lead_id}", ok="duplicate" if result.duplicate else "sent")


# --- payments and bookings ---------------------------------------------------------------------------------------
@ui_auth
async def money_page(request: web.Request) -> web.Response:
    page = PageRequest(1, 50)
    payments = await in_session(request, leads_admin.list_payments, page)
    bookings = await in_session(request, leads_admin.list_bookings, page)
    return render(request, "money.html", payments=payments, bookings=bookings, active="money")


# --- knowledge base ----------------------------------------------------------------------------------------------
@ui_auth
async def kb_page(request: web.Request) -> web.Response:
    documents = await in_session(request, kb_admin.list_documents)
    history = await in_session(request, kb_admin.history, limit=30)
    return render(request, "kb.html", documents=documents, history=history, active="kb",
                  folder=str(admin_api.kb_dir(request.app)))


@ui_auth
async def kb_doc_page(request: web.Request) -> web.Response:
    doc = await in_session(request, kb_admin.document_history, admin_api._id(request))
    return render(request, "kb_doc.html", doc=doc, active="kb")


@ui_auth
async def kb_upload(request: web.Request) -> web.StreamResponse:
    form = request["form"]
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise redirect_back("/admin/kb", error="Выберите файл")
    data = upload.file.read(kb_admin.MAX_UPLOAD_BYTES + 1)
    folder_path = admin_api.kb_dir(request.app)
    claims = claims_of(request)
    folder = str(form.get("folder", "") or "") or None

    def work(session: Session, *, embedder: Any) -> dict[str, Any]:
        result = kb_admin.upload(session, folder_path, upload.filename, data, folder=folder, embedder=embedder)
        admin_api.audit(session, claims, "kb_upload", upload.filename)
        session.commit()
        return result

    return await _kb_action(request, work, ok="uploaded")


async def _kb_action(request: web.Request, work: Any, *, ok: str) -> web.StreamResponse:
    """Run a knowledge-base change and go back to the KB page with its outcome."""
    try:
        await admin_api.kb_call(request, work)
    except VoronkaError as exc:
        raise redirect_back("/admin/kb", error=exc.message) from None
    raise redirect_back("/admin/kb", ok=ok)


@ui_auth
async def kb_delete(request: web.Request) -> web.StreamResponse:
    doc_id = admin_api._id(request)
    folder_path = admin_api.kb_dir(request.app)
    claims = claims_of(request)

    def work(session: Session, *, embedder: Any) -> dict[str, Any]:
        result = kb_admin.delete(session, folder_path, doc_id, embedder=embedder)
        admin_api.audit(session, claims, "kb_delete", f"kb:{doc_id}")
        session.commit()
        return result

    return await _kb_action(request, work, ok="deleted")


@ui_auth
async def kb_reingest(request: web.Request) -> web.StreamResponse:
    folder_path = admin_api.kb_dir(request.app)
    claims = claims_of(request)

    def work(session: Session, *, embedder: Any) -> dict[str, Any]:
        result = kb_admin.reingest(session, folder_path, embedder=embedder)
        admin_api.audit(session, claims, "kb_reingest")
        session.commit()
        return result

    return await _kb_action(request, work, ok="reingested")


# --- prices ------------------------------------------------------------------------------------------------------
@ui_auth
async def prices_page(request: web.Request) -> web.Response:
    prices = await in_session(request, prices_admin.price_list)
    history = await in_session(request, prices_admin.history, 30)
    return render(request, "prices.html", prices=prices, history=history, active="prices")


@ui_auth
async def price_submit(request: web.Request) -> web.StreamResponse:
    form = request["form"]
    entity = str(form.get("entity", ""))
    a, b = str(form.get("a", ""))[:32], str(form.get("b", ""))[:32]
    value = str(form.get("value", "")).strip().replace(",", ".").replace(" ", "").replace("\u00a0", "")[:20]
    comment = str(form.get("comment", ""))[:500]
    if entity not in ("rate", "coefficient"):
        raise redirect_back("/admin/prices", error="Неизвестное поле")
    try:
        await admin_api.change_price(request, entity, a, b, value, comment)
    except VoronkaError as exc:
        raise redirect_back("/admin/prices", error=f"{a}/{b}: {exc.message}") from None
    raise redirect_back("/admin/prices", ok="price" if entity == "rate" else "coefficient")


# --- templates, analytics, ops -----------------------------------------------------------------------------------
@ui_auth
async def templates_page(request: web.Request) -> web.Response:
    kind = request.query.get("kind", "proposal")
    kind = kind if kind in TEMPLATE_TITLES else "proposal"
    product = request.query.get("product", Product.AI_LAWYER)
    product = product if product in PRODUCTS else Product.AI_LAWYER
    package = request.query.get("package", RECOMMENDED_PACKAGE)
    package = package if package in PACKAGES else RECOMMENDED_PACKAGE
    preview = f"/api/v1/admin/templates/{quote(kind)}/preview?" + urlencode({"product": product, "package": package})
    return render(request, "templates.html", titles=TEMPLATE_TITLES, kind=kind, product=product,
                  package=package, preview=preview, active="templates")


@ui_auth
async def analytics_page(request: web.Request) -> web.Response:
    days = request.query.get("days", "30")
    days = days if days in ("7", "30", "90", "365") else "30"
    return render(request, "analytics.html", days=days, active="analytics")


@ui_auth
async def ops_page(request: web.Request) -> web.Response:
    try:
        queues, redis_error = await queue_counts(request), None
    except Exception as exc:  # the page still shows the database part when Redis is down
        queues, redis_error = [], type(exc).__name__
    failed = await in_session(request, leads_admin.list_failed_jobs, PageRequest(1, 50))
    events = await in_session(request, leads_admin.list_events, PageRequest(1, 30))
    return render(request, "ops.html", queues=queues, redis_error=redis_error, failed=failed, events=events,
                  integrations=integrations(request.app[keys.SETTINGS]), active="ops", queue_url=queue_url)


def setup(app: web.Application) -> None:
    app[JINJA] = environment()
    r = app.router
    r.add_get("/admin", index)
    r.add_get("/admin/", index)
    r.add_get("/admin/login", login_page)
    r.add_post("/admin/login", login_submit)
    r.add_post("/admin/logout", logout)
    r.add_get("/admin/leads", leads_page)
    r.add_get("/admin/leads/{id}", lead_page)
    r.add_post("/admin/leads/{id}/take-over", lead_take_over)
    r.add_post("/admin/leads/{id}/give-back", lead_give_back)
    r.add_post("/admin/leads/{id}/messages", lead_message)
    r.add_get("/admin/payments", money_page)
    r.add_get("/admin/kb", kb_page)
    r.add_get("/admin/kb/{id}", kb_doc_page)
    r.add_post("/admin/kb/upload", kb_upload)
    r.add_post("/admin/kb/reingest", kb_reingest)
    r.add_post("/admin/kb/{id}/delete", kb_delete)
    r.add_get("/admin/prices", prices_page)
    r.add_post("/admin/prices", price_submit)
    r.add_get("/admin/templates", templates_page)
    r.add_get("/admin/analytics", analytics_page)
    r.add_get("/admin/ops", ops_page)
