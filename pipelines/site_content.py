"""The landing's content from the knowledge base's own text: the three services (``services/*.md``), the way we work
(``about.md``), cases (``cases/*.md``) and FAQ (``faq/*.md``). The Markdown is read by the knowledge base's parser
(one parser for the project), turned into sections once, and re-read only when a file changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.knowledge.parsers import ParsedDocument, parse_markdown
from voronka import paths
from voronka.vocabulary import PRODUCTS

KB_DIR = paths.KNOWLEDGE_BASE_DIR
CASE_ORDER = ("furniture_avito", "dental_clinic", "logistics_lawyer", "ecommerce_analyst", "developer_after_inhouse",
              "autoservice_start")
FAQ_ORDER = ("pilot", "payment_contract", "security_152fz", "hosting", "support_guarantees")


# --- the knowledge base's Markdown, as sections ------------------------------------------------------------------


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


def sections_of(parsed: ParsedDocument, name: str = "") -> MarkdownDoc:
    """The knowledge parser's blocks as the landing reads them: ``##`` sections, ``###`` subsections of the current
    section, list items («• …» lines of a text block; a wrapped item's next line joins it) and paragraphs."""
    intro: list[str] = []
    sections: list[Section] = []
    current: Section | None = None
    target: Section | None = None
    for block in parsed.blocks:
        if block.kind == "heading" and block.level >= 3:
            sub = Section(block.text)
            if current is None:
                current = Section("")
                sections.append(current)
            current.subsections.append(sub)
            target = sub
            continue
        if block.kind == "heading":
            current = target = Section(block.text)
            sections.append(current)
            continue
        paragraph: list[str] = []
        in_item = False
        for line in [*block.text.split("\n"), ""]:  # the empty line ends the block's last paragraph
            if (line.startswith("• ") or not line) and paragraph:
                (target.paragraphs if target is not None else intro).append(" ".join(paragraph))
                paragraph = []
            if line.startswith("• "):
                if target is None:
                    current = target = Section("")
                    sections.append(target)
                target.items.append(line[2:].strip())
                in_item = True
            elif in_item and line and target is not None and target.items:
                target.items[-1] += " " + line.strip()  # a wrapped list item
            elif line:
                paragraph.append(line.strip())
    return MarkdownDoc(name=name, title=parsed.title, intro=intro, sections=sections)


def load_doc(path: Path) -> MarkdownDoc:
    """A knowledge-base Markdown file, read by the knowledge base's own parser (``pipelines.knowledge.parsers``)."""
    return sections_of(parse_markdown(path.read_text(encoding="utf-8"), ""), name=path.stem)


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
        return load_doc(path)

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
