"""The agency's public pages: the landing (``GET /``), the widget demo (``GET /widget-demo``), the privacy policy
(``GET /privacy``) and the static files under ``/static/``.

The landing shows the knowledge base's own text: the three services (``knowledge_base/services/*.md``), the way we
work (``about.md``), cases (``cases/*.md``) and FAQ (``faq/*.md``). The markdown is parsed into sections once and
re-read only when a file changes. Pages carry a strict Content-Security-Policy: everything comes from us.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from voronka import paths
from voronka.vocabulary import PRODUCTS
from web import keys
from web.jsonutil import json_response

KB_DIR = paths.KNOWLEDGE_BASE_DIR
TEMPLATES_DIR = paths.TEMPLATES_DIR / "site"
STATIC_DIR = paths.STATIC_DIR

CASE_ORDER = ("furniture_avito", "dental_clinic", "logistics_lawyer", "ecommerce_analyst", "developer_after_inhouse",
              "autoservice_start")
FAQ_ORDER = ("pilot", "payment_contract", "security_152fz", "hosting", "support_guarantees")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'; object-src 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


# --- the knowledge base's markdown, as sections ------------------------------------------------------------------


@dataclass
class Section:
    heading: str
    items: list[str] = field(default_factory=list)  # bullet or numbered items, continuation lines joined
    paragraphs: list[str] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.items or self.paragraphs


@dataclass
class MarkdownDoc:
    name: str  # file stem
    title: str
    intro: list[str]
    sections: list[Section]

    def section(self, prefix: str) -> Section | None:
        for section in self.sections:
            if section.heading.lower().startswith(prefix.lower()):
                return section
        return None

    def fields(self, prefix: str) -> dict[str, str]:
        """«- Ключ: значение» items of a section as a dict."""
        section = self.section(prefix)
        found: dict[str, str] = {}
        for item in section.items if section else []:
            key, sep, value = item.partition(":")
            if sep:
                found[key.strip()] = value.strip()
        return found


_ITEM = re.compile(r"^\s*(?:[-*]|\d+[.)])\s+(.*)$")


def parse_markdown(text: str, name: str = "") -> MarkdownDoc:
    """Headings (#, ##, ###), list items and paragraphs — the subset the knowledge base uses."""
    title = ""
    intro: list[str] = []
    sections: list[Section] = []
    current: Section | None = None
    target: Section | None = None
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            joined = " ".join(paragraph)
            (target.paragraphs if target is not None else intro).append(joined)
            paragraph.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            flush()
            continue
        if line.startswith("### "):
            flush()
            sub = Section(line[4:].strip())
            if current is None:
                current = Section("")
                sections.append(current)
            current.subsections.append(sub)
            target = sub
        elif line.startswith("## "):
            flush()
            current = Section(line[3:].strip())
            sections.append(current)
            target = current
        elif line.startswith("# "):
            flush()
            title = line[2:].strip()
        elif (match := _ITEM.match(line)) is not None:
            flush()
            holder = target if target is not None else Section("")
            if target is None:
                current = target = holder
                sections.append(holder)
            holder.items.append(match.group(1).strip())
        elif line.startswith((" ", "\t")) and target is not None and target.items and not paragraph:
            target.items[-1] += " " + line.strip()  # a wrapped list item
        else:
            paragraph.append(line.strip())
    flush()
    return MarkdownDoc(name=name, title=title, intro=intro, sections=sections)


def _after(title: str, separator: str = " — ") -> tuple[str, str]:
    head, _, tail = title.partition(separator)
    return head.strip(), tail.strip()


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def service_view(code: str, label: str, doc: MarkdownDoc) -> dict[str, Any]:
    _, tagline = _after(doc.title)
    does = doc.section("Что делает")
    who = doc.section("Для кого")
    terms = doc.section("Сроки")
    results = doc.section("Результаты")
    pilot = next((i for i in (terms.items if terms else []) if i.lower().startswith("бесплатный пилот")), "")
    launch = [i for i in (terms.items if terms else []) if not i.lower().startswith("бесплатный пилот")]
    return {"code": code, "name": label, "tagline": _upper_first(tagline),
            "does": does.items if does else [], "who": who.items if who else [], "launch": launch, "pilot": pilot,
            "results": results.items if results else []}


def case_view(doc: MarkdownDoc) -> dict[str, Any]:
    title = doc.title.removeprefix("Кейс:").strip()
    client, subtitle = _after(title)
    client_section = doc.section("Клиент")
    facts = client_section.items if client_section else []
    industry = next((f.partition(":")[2].strip() for f in facts if f.startswith("Отрасль:")), "")
    about = next((f for f in facts if not f.startswith(("Отрасль:", "Поток:"))), "")
    task = doc.section("Задача")
    result = doc.section("Результат")
    package = doc.fields("Пакет")
    return {"name": doc.name, "client": _upper_first(client), "subtitle": _upper_first(subtitle),
            "industry": _upper_first(industry.rstrip(".")), "about": about,
            "task": task.lines[0] if task and task.lines else "",
            "result_heading": result.heading if result else "", "results": result.lines[:4] if result else [],
            "product": package.get("Продукт", ""), "package": package.get("Пакет", ""),
            "price": package.get("Стоимость внедрения", "")}


def faq_view(doc: MarkdownDoc) -> dict[str, Any]:
    topic = doc.title.removeprefix("FAQ:").strip()
    return {"name": doc.name, "topic": _upper_first(topic),
            "questions": [{"q": s.heading, "a": s.lines} for s in doc.sections if s.heading and s.lines]}


def _ordered(paths: list[Path], order: tuple[str, ...]) -> list[Path]:
    rank = {name: i for i, name in enumerate(order)}
    return sorted(paths, key=lambda p: (rank.get(p.stem, len(rank)), p.stem))


class SiteContent:
    """The landing's content from ``knowledge_base/``; re-parsed when any of the files changes."""

    def __init__(self, kb_dir: Path = KB_DIR) -> None:
        self.kb_dir = kb_dir
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._content: dict[str, Any] = {}

    def _files(self) -> list[Path]:
        services = [self.kb_dir / "services" / f"{code}.md" for code in PRODUCTS]
        services.append(self.kb_dir / "services" / "about.md")
        return ([p for p in services if p.exists()] + sorted((self.kb_dir / "cases").glob("*.md"))
                + sorted((self.kb_dir / "faq").glob("*.md")))

    def get(self) -> dict[str, Any]:
        files = self._files()
        stamp = tuple((str(p), p.stat().st_mtime) for p in files)
        if stamp != self._stamp:
            self._content = self._load()
            self._stamp = stamp
        return self._content

    def _doc(self, path: Path) -> MarkdownDoc:
        return parse_markdown(path.read_text(encoding="utf-8"), name=path.stem)

    def _load(self) -> dict[str, Any]:
        services = []
        for code in PRODUCTS:
            path = self.kb_dir / "services" / f"{code}.md"
            if path.exists():
                services.append(service_view(code, code.info.title, self._doc(path)))
        about_path = self.kb_dir / "services" / "about.md"
        about = self._doc(about_path) if about_path.exists() else MarkdownDoc("about", "", [], [])
        steps = about.section("Как мы работаем")
        cases = [case_view(self._doc(p)) for p in _ordered(list((self.kb_dir / "cases").glob("*.md")), CASE_ORDER)]
        faq = [faq_view(self._doc(p)) for p in _ordered(list((self.kb_dir / "faq").glob("*.md")), FAQ_ORDER)]
        step_items = steps.items if steps else []
        return {"services": services, "steps": [(head, _upper_first(tail)) for head, tail in map(_after, step_items)],
                "cases": cases, "faq": [f for f in faq if f["questions"]]}


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
