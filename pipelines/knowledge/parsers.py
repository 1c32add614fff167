"""File parsers: .md, .txt, .html/.htm, .pdf, .docx → a title and a flat list of blocks (headings and paragraphs).

Every parser returns normalised text (``text.normalise``); the chunker turns blocks into heading-path chunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docx
from bs4 import BeautifulSoup
from docx.opc.exceptions import PackageNotFoundError
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from pipelines.knowledge.text import normalise

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")


class ParseError(ValueError):
    """A file could not be read as the format its name says."""


@dataclass(frozen=True)
class Block:
    kind: str  # "heading" | "text"
    text: str
    level: int = 0  # heading level 1..6; 0 for text


@dataclass
class ParsedDocument:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def plain_text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPH = re.compile(r"(\*\*|__|\*|_|`{1,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_HTML_TAG = re.compile(r"<[^>]+>")


def _md_inline(line: str) -> str:
    line = _MD_LINK.sub(r"\1", line)
    for _ in range(2):
        line = _MD_EMPH.sub(r"\2", line)
    line = _HTML_TAG.sub("", line)
    if line.lstrip().startswith(">"):
        line = line.lstrip()[1:].lstrip()
    if "|" in line and line.strip().startswith("|"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        line = " — ".join(c for c in cells if c)
    return line


def parse_markdown(raw: str, fallback_title: str) -> ParsedDocument:
    blocks: list[Block] = []
    para: list[str] = []
    title = ""
    in_code = False

    def flush() -> None:
        if para:
            text = normalise("\n".join(para))
            if text:
                blocks.append(Block("text", text))
            para.clear()

    for line in normalise(raw).split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        heading = None if in_code else _MD_HEADING.match(line)
        if heading:
            flush()
            level, text = len(heading.group(1)), normalise(_md_inline(heading.group(2)))
            if level == 1 and not title:
                title = text
            else:
                blocks.append(Block("heading", text, level))
        elif not line.strip():
            flush()
        elif _MD_TABLE_RULE.match(line) or line.strip() in ("---", "***", "___"):
            continue
        else:
            is_item = bool(_MD_LIST.match(line))
            text = _md_inline(_MD_LIST.sub("", line) if is_item else line)
            para.append(("• " + text) if is_item else text)
    flush()
    return ParsedDocument(title or fallback_title, blocks)


def parse_text(raw: str, fallback_title: str) -> ParsedDocument:
    if any(_MD_HEADING.match(line) for line in raw.splitlines()):
        return parse_markdown(raw, fallback_title)  # a .txt written with Markdown headings
    paragraphs = [p.strip() for p in normalise(raw).split("\n\n") if p.strip()]
    title = fallback_title
    if paragraphs and len(paragraphs[0]) <= 120 and "\n" not in paragraphs[0]:
        title = paragraphs.pop(0)
    return ParsedDocument(title, [Block("text", p) for p in paragraphs])


def parse_html(raw: str, fallback_title: str) -> ParsedDocument:
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "footer", "header"]):
        tag.decompose()
    title = normalise(soup.title.get_text(" ")) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    blocks: list[Block] = []
    root = soup.body or soup
    block_tags = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "blockquote", "pre", "dt", "dd"]
    for el in root.find_all(block_tags):
        if el.find_parent(block_tags) is not None:
            continue  # its text is part of the enclosing block
        text = normalise(el.get_text(" "))
        if not text:
            continue
        name = el.name or ""
        if name.startswith("h") and name[1:].isdigit():
            level = int(name[1:])
            if level == 1 and not title:
                title = text
                continue
            if level == 1 and text == title:
                continue
            blocks.append(Block("heading", text, level))
        else:
            blocks.append(Block("text", ("• " + text) if name == "li" else text))
    if not blocks:
        text = normalise(root.get_text("\n"))
        if text:
            blocks.append(Block("text", text))
    return ParsedDocument(title or fallback_title, blocks)


def parse_pdf(path: Path, fallback_title: str) -> ParsedDocument:
    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PdfReadError, OSError, ValueError) as exc:
        raise ParseError(f"{path.name}: не удалось прочитать PDF ({exc})") from exc
    text = normalise("\n\n".join(pages))
    doc = parse_text(text, fallback_title)
    if meta_title.strip():
        if doc.title != fallback_title and doc.title != normalise(meta_title):
            doc.blocks.insert(0, Block("text", doc.title))
        doc.title = normalise(meta_title)
    return doc


def parse_docx(path: Path, fallback_title: str) -> ParsedDocument:
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, OSError, ValueError, KeyError) as exc:
        raise ParseError(f"{path.name}: не удалось прочитать DOCX ({exc})") from exc
    title = normalise(document.core_properties.title or "")
    blocks: list[Block] = []
    for para in document.paragraphs:
        text = normalise(para.text)
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style == "Title":
            if not title:
                title = text
            continue
        match = re.match(r"Heading (\d)", style)
        if match:
            level = int(match.group(1))
            if level == 1 and not title:
                title = text
                continue
            blocks.append(Block("heading", text, level))
        else:
            blocks.append(Block("text", ("• " + text) if "List" in style else text))
    for table in document.tables:
        for row in table.rows:
            cells = [normalise(c.text) for c in row.cells]
            line = " — ".join(c for c in cells if c)
            if line:
                blocks.append(Block("text", line))
    return ParsedDocument(title or fallback_title, blocks)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ParseError(f"{path.name}: неизвестная кодировка")


def fallback_title(path: Path) -> str:
    return normalise(path.stem.replace("_", " ").replace("-", " ")).capitalize()


def parse_file(path: Path) -> ParsedDocument:
    """Parse one supported file; raises ``ParseError`` for a broken file or an unsupported suffix."""
    suffix = path.suffix.lower()
    title = fallback_title(path)
    parsers: dict[str, Callable[[], ParsedDocument]] = {
        ".md": lambda: parse_markdown(_read_text(path), title),
        ".markdown": lambda: parse_markdown(_read_text(path), title),
        ".txt": lambda: parse_text(_read_text(path), title),
        ".html": lambda: parse_html(_read_text(path), title),
        ".htm": lambda: parse_html(_read_text(path), title),
        ".pdf": lambda: parse_pdf(path, title),
        ".docx": lambda: parse_docx(path, title),
    }
    if suffix not in parsers:
        raise ParseError(f"{path.name}: формат {suffix or '(без расширения)'} не поддерживается")
    return parsers[suffix]()
