"""What every admin page shares: the Jinja environment and its filters, ``render`` with the menu and flash
messages, ``ui_auth`` (the login cookie, CSRF on forms, errors as a page) and ``redirect_back``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from pipelines.admin import leads as leads_admin
from pipelines.dialog.texts import HANDOFF_REASONS
from voronka import paths
from voronka.errors import Forbidden, Unauthorized, VoronkaError
from voronka.vocabulary import CHANNELS, PACKAGE_TITLES, PACKAGES, PRODUCTS, STAGE_LABELS, STAGES
from web.admin.auth import Claims
from web.admin.deps import CLAIMS_KEY, COOKIE_NAME, authenticate_request, claims_of

TEMPLATES_DIR = paths.TEMPLATES_DIR / "admin"
JINJA = web.AppKey("admin_jinja", jinja2.Environment)
MSK = ZoneInfo("Europe/Moscow")

NAV = (("leads", "/admin/leads", "Лиды"), ("analytics", "/admin/analytics", "Аналитика"),
       ("money", "/admin/payments", "Оплаты и встречи"), ("kb", "/admin/kb", "База знаний"),
       ("prices", "/admin/prices", "Цены"), ("templates", "/admin/templates", "Шаблоны"),
       ("ops", "/admin/ops", "Система"))
FLASH = {"taken": "Вы взяли разговор: бот молчит, пока вы его не вернёте.",
         "returned": "Разговор возвращён боту.", "sent": "Сообщение отправлено клиенту.",
         "duplicate": "Это сообщение уже было отправлено.", "uploaded": "Документ загружен и проиндексирован.",
         "deleted": "Документ удалён из базы знаний.", "reingested": "База знаний переиндексирована.",
         "price": "Цена сохранена.", "coefficient": "Коэффициент сохранён.",
         "requeued": "Сообщение снова в очереди: его возьмёт свободный воркер.",
         "message_deleted": "Сообщение удалено из очереди."}
BRIEF_LABELS = {"product": "Продукт", "users": "Пользователи", "integrations": "Интеграции", "hosting": "Размещение",
                "sla": "SLA", "deadline": "Сроки", "name": "Имя", "phone": "Телефон", "email": "E-mail",
                "company": "Компания", "industry": "Отрасль", "tasks": "Задачи", "package": "Пакет"}
ROLE_LABELS = {"client": "Клиент", "assistant": "Бот", "manager": "Менеджер", "system": "Система"}
EVENT_LABELS = {"stage_changed": "Этап", "handoff": "Передан менеджеру", "handback": "Возвращён боту",
                "takeover": "Менеджер взял разговор", "manager_message": "Сообщение менеджера",
                "payment": "Оплата", "llm_usage": "LLM", "nps_answer": "Оценка NPS",
                "privacy_erased": "Персональные данные удалены", "booking": "Встреча"}


def format_dt(value: Any, fmt: str = "%d.%m.%Y %H:%M") -> str:
    if not value:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.astimezone(MSK).strftime(fmt)
    return str(value)


def _money(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    whole = f"{number:,.2f}".replace(",", "\u00a0").replace(".", ",")
    return whole.removesuffix(",00") + "\u00a0₽"


BRIEF_VALUES = {"hosting": {"cloud": "Облако", "hybrid": "Гибрид", "onprem": "On-premise"},
                "sla": {"standard": "Стандартный", "99.5": "99,5 %", "99.9": "99,9 %"},
                "deadline": {"standard": "Стандартный", "lt2w": "До 2 недель", "lt1w": "До 1 недели"},
                "package": PACKAGE_TITLES}


def _brief_value(value: Any, key: str) -> str:
    if key == "product":
        return leads_admin.PRODUCT_LABELS.get(str(value), str(value))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return BRIEF_VALUES.get(key, {}).get(str(value), str(value))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["dt"] = format_dt
    env.filters["money"] = _money
    env.filters["brief_value"] = _brief_value
    env.globals["HANDOFF_REASONS"] = HANDOFF_REASONS
    env.globals.update(NAV=NAV, BRIEF_LABELS=BRIEF_LABELS, STAGE_LABELS=STAGE_LABELS,
                       CHANNEL_LABELS=leads_admin.CHANNEL_LABELS,
                       PRODUCT_LABELS=leads_admin.PRODUCT_LABELS, ROLE_LABELS=ROLE_LABELS,
                       EVENT_LABELS=EVENT_LABELS, STAGES=STAGES, CHANNELS=CHANNELS, PRODUCTS=PRODUCTS,
                       PACKAGES=PACKAGES, PACKAGE_TITLES=PACKAGE_TITLES)
    return env


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    claims: Claims | None = request.get(CLAIMS_KEY)
    flash = FLASH.get(request.query.get("ok", ""))
    context.setdefault("active", "")
    html = request.app[JINJA].get_template(template).render(
        user=claims, csrf=claims.csrf if claims else "", flash=flash, error=request.query.get("error"),
        path=request.path, **context)
    return web.Response(text=html, content_type="text/html", status=status,
                        headers={"Cache-Control": "no-store", "Content-Security-Policy": CSP})


CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-src 'self'; "
       "frame-ancestors 'self'; form-action 'self'; base-uri 'none'")


def ui_auth(handler: Any) -> Any:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            await authenticate_request(request)
        except (Unauthorized, Forbidden):
            target = "/admin/login?" + urlencode({"next": request.path_qs})
            response = web.HTTPFound(target)
            response.del_cookie(COOKIE_NAME, path="/")
            raise response from None
        try:
            if request.method == "POST":
                form = await request.post()
                if form.get("csrf") != claims_of(request).csrf:
                    raise Forbidden("Форма устарела: обновите страницу и попробуйте ещё раз.", code="csrf")
                request["form"] = form
            return await handler(request)
        except VoronkaError as exc:
            title = {404: "Не найдено", 403: "Нет доступа"}.get(exc.status, "Не получилось")
            return render(request, "error.html", status=exc.status, title=title, message=exc.message)

    wrapper.__name__ = handler.__name__
    return wrapper


def redirect_back(path: str, **params: str) -> web.HTTPFound:
    return web.HTTPFound(path + ("?" + urlencode(params) if params else ""))
