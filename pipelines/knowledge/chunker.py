"""Heading-path chunks with a size cap and one sentence of overlap between the pieces of a long section."""

from __future__ import annotations

from dataclasses import dataclass

from razdel import sentenize

from pipelines.knowledge.parsers import ParsedDocument

HEADING_SEPARATOR = " › "
MAX_CHARS = 1000
OVERLAP_MAX_CHARS = 300

DOC_TYPES = {
    "services": "service",
    "usp": "usp",
    "cases": "case",
    "faq": "faq",
    "prices": "price",
    "policies": "policy",
    "scripts": "script",
}
TYPE_LABELS = {
    "service": "Услуги",
    "usp": "Преимущества",
    "case": "Кейсы",
    "faq": "Вопросы и ответы",
    "price": "Цены",
    "policy": "Политики",
    "script": "Скрипты",
}


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    heading: str  # "Услуги › ИИ-Юрист › Интеграции"
    text: str

    @property
    def embedding_text(self) -> str:
        return f"{self.heading}\n{self.text}"


def doc_type_for(relative_path: str) -> str:
    """Document type from the top folder of the path inside the knowledge base; "other" outside the known ones."""
    parts = relative_path.replace("\\", "/").split("/")
    return DOC_TYPES.get(parts[0].lower(), "other") if len(parts) > 1 else "other"


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for para in text.split("\n"):
        out.extend(s.text for s in sentenize(para) if s.text.strip())
    return out


def _hard_split(sentence: str, max_chars: int) -> list[str]:
    pieces, current = [], ""
    for word in sentence.split(" "):
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def split_text(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Pieces of at most ``max_chars`` (a longer single word aside), whole sentences, the last sentence of a
    piece repeated at the start of the next one when it is short enough."""
    if len(text) <= max_chars:
        return [text]
    sentences: list[str] = []
    for sentence in _sentences(text):
        sentences.extend(_hard_split(sentence, max_chars) if len(sentence) > max_chars else [sentence])
    pieces: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        if current and len(" ".join([*current, sentence])) > max_chars:
            pieces.append(" ".join(current))
            tail = current[-1]
            keep = len(tail) <= OVERLAP_MAX_CHARS and len(tail) + 1 + len(sentence) <= max_chars
            current = [tail] if keep else []
        current.append(sentence)
    if current:
        pieces.append(" ".join(current))
    return pieces


def chunk_document(doc: ParsedDocument, doc_type: str, *, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Chunks of a parsed document; each carries its heading path (type label › title › section › subsection)."""
    root = [label for label in (TYPE_LABELS.get(doc_type), doc.title) if label]
    stack: list[tuple[int, str]] = []
    chunks: list[Chunk] = []
    buffer: list[str] = []

    def flush() -> None:
        if not buffer:
            return
        heading = HEADING_SEPARATOR.join(root + [h for _, h in stack])
        for piece in split_text("\n".join(buffer), max_chars):
            chunks.append(Chunk(len(chunks), heading, piece))
        buffer.clear()

    for block in doc.blocks:
        if block.kind == "heading":
            flush()
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text))
        else:
            buffer.append(block.text)
    flush()
    return chunks
