"""The agency's public pages: the landing (``GET /``), the widget demo (``GET /widget-demo``), the privacy policy
(``GET /privacy``) and the static files under ``/static/``.

The landing shows the knowledge base's own text: the three services (``knowledge_base/services/*.md``), the way we
work (``about.md``), cases (``cases/*.md``) and FAQ (``faq/*.md``), as ``pipelines.site_content`` reads them. Pages
carry a strict Content-Security-Policy: everything comes from us.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from pipelines.site_content import KB_DIR, SiteContent
from voronka import paths
from web import keys
from web.jsonutil import json_response

TEMPLATES_DIR = paths.TEMPLATES_DIR / "site"
STATIC_DIR = paths.STATIC_DIR


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'; object-src 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


# --- rendering ---------------------------------------------------------------------------------------------------

_ENV = web.AppKey("site_jinja", jinja2.Environment)
_CONTENT = web.AppKey("site_content", SiteContent)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["rub"] = lambda value: f"{int(value):,}".replace(",", "\u00a0") + "\u00a0₽"
    return env


def _site_context(request: web.Request) -> dict[str, Any]:
    settings = request.app[keys.SETTINGS]
    phone_digits = re.sub(r"[^\d+]", "", settings.AGENCY_PHONE)
    return {
        "agency": {"name": settings.AGENCY_NAME, "phone": settings.AGENCY_PHONE, "phone_href": phone_digits,
                   "email": settings.AGENCY_EMAIL, "address": settings.AGENCY_ADDRESS, "inn": settings.AGENCY_INN,
                   "ogrn": settings.AGENCY_OGRN, "hours": settings.WORKING_HOURS},
        "telegram_bot": settings.TELEGRAM_BOT_USERNAME.lstrip("@"),
        "max_message_length": settings.MAX_MESSAGE_LENGTH,
    }


def render(request: web.Request, template: str, **context: Any) -> web.Response:
    html = request.app[_ENV].get_template(template).render(**_site_context(request), **context)
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers.update(PAGE_HEADERS)
    return response


async def landing(request: web.Request) -> web.Response:
    return render(request, "index.html", **request.app[_CONTENT].get())


async def widget_demo(request: web.Request) -> web.Response:
    # Embedded exactly as another site would: an absolute script URL and data-api pointing at this server.
    return render(request, "widget_demo.html", public_url=f"{request.scheme}://{request.host}")


async def widget_config(request: web.Request) -> web.Response:
    """What the widget needs to know on any site: the Telegram bot to continue in, the message length limit."""
    settings = request.app[keys.SETTINGS]
    return json_response({"telegram_bot": settings.TELEGRAM_BOT_USERNAME.lstrip("@") or None,
                          "max_message_length": settings.MAX_MESSAGE_LENGTH})


async def privacy(request: web.Request) -> web.Response:
    path = KB_DIR / "policies" / "privacy.html"
    body = path.read_text(encoding="utf-8")
    match = re.search(r"<body[^>]*>(.*)</body>", body, re.S | re.I)
    # The policy is the agency's own trusted file from the repository, shown as-is inside our layout.
    return render(request, "privacy.html", policy=Markup(match.group(1) if match else body))


def setup(app: web.Application) -> None:
    app[_ENV] = _environment()
    app[_CONTENT] = SiteContent()
    app.router.add_get("/", landing)
    app.router.add_get("/widget-demo", widget_demo)
    app.router.add_get("/privacy", privacy)
    app.router.add_get("/api/v1/site/widget-config", widget_config)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
