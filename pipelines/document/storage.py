"""Document numbers, versions and files on disk, with the ``documents`` table as the record.

* Number: ``КП-2026-0001`` (proposal), ``ДГ-2026-0001`` (contract), ``СЧ-2026-0001`` (invoice) — a sequence
  per kind and year. A lead keeps its number for a kind; a changed brief makes the next version.
* File: ``DOCUMENTS_PATH/<lead_id>/KP-2026-0001-v2.pdf`` (ASCII name; the Russian number is in the document).
  ``Document.path`` holds the path relative to DOCUMENTS_PATH, so the folder can be moved or rsync'ed.
* Rule: the same lead + kind + brief hash returns the document already issued (a retry makes no duplicate);
  a brief change issues a new version; an issued file is never overwritten.

The number is part of the PDF, so it is reserved before rendering: ``issue_document`` finds an existing
document or takes the next slot, calls ``render(number, version)`` and stores the result. Functions take a
synchronous SQLAlchemy/SQLModel ``Session``, flush but never commit (the caller owns the transaction).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from loguru import logger
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from db.models import Document
from voronka.errors import Conflict, ValidationError

KIND_PREFIXES: dict[str, tuple[str, str]] = {  # kind → (shown in the document, ASCII for the file name)
    "proposal": ("КП", "KP"),
    "contract": ("ДГ", "DG"),
    "invoice": ("СЧ", "SCH"),
}
MAX_ATTEMPTS = 5  # a concurrent issue took the same number/version: take the next one
_NUMBER_RE = re.compile(r"^(?P<prefix>[^-]+)-(?P<year>\d{4})-(?P<seq>\d+)$")


@dataclass(frozen=True)
class DocumentSlot:
    number: str
    version: int


def _prefix(kind: str) -> tuple[str, str]:
    try:
        return KIND_PREFIXES[kind]
    except KeyError:
        raise ValidationError(f"Неизвестный вид документа «{kind}»", field="kind") from None


def format_number(kind: str, year: int, seq: int) -> str:
    """``КП-2026-0001``."""
    return f"{_prefix(kind)[0]}-{year}-{seq:04d}"


def file_name(kind: str, number: str, version: int) -> str:
    """``KP-2026-0001-v2.pdf`` for ``КП-2026-0001`` version 2."""
    match = _NUMBER_RE.match(number)
    if match is None:
        raise ValidationError(f"Номер документа «{number}» не в формате КП-2026-0001", field="number")
    return f"{_prefix(kind)[1]}-{match['year']}-{match['seq']}-v{int(version)}.pdf"


def relative_path(lead_id: int, kind: str, number: str, version: int) -> str:
    return f"{int(lead_id)}/{file_name(kind, number, version)}"


def absolute_path(documents_dir: Path, document: Document) -> Path:
    """Where a stored document's file is."""
    path = Path(document.path)
    return path if path.is_absolute() else Path(documents_dir) / path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Only called for a number/version whose row this transaction has just claimed, so anything already at
    ``path`` is an orphan of a rolled-back attempt, never an issued document.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pdf", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def find_existing(session: Session, *, lead_id: int, kind: str, brief_hash: str) -> Document | None:
    """The document already issued for this lead, kind and brief (the latest one if several)."""
    stmt = (select(Document)
            .where(col(Document.lead_id) == lead_id, col(Document.kind) == kind,
                   col(Document.brief_hash) == brief_hash)
            .order_by(col(Document.version).desc()).limit(1))
    return session.scalars(stmt).first()


def latest(session: Session, *, lead_id: int, kind: str) -> Document | None:
    """The newest version of this lead's document of ``kind``."""
    stmt = (select(Document).where(col(Document.lead_id) == lead_id, col(Document.kind) == kind)
            .order_by(col(Document.version).desc(), col(Document.id).desc()).limit(1))
    return session.scalars(stmt).first()


def next_slot(session: Session, *, lead_id: int, kind: str, year: int) -> DocumentSlot:
    """The number and version the next document of this lead and kind gets."""
    current = latest(session, lead_id=lead_id, kind=kind)
    if current is not None:
        top = session.scalar(select(func.max(col(Document.version))).where(col(Document.number) == current.number))
        return DocumentSlot(current.number, int(top or current.version) + 1)
    pattern = f"{_prefix(kind)[0]}-{year}-%"
    numbers = session.scalars(select(col(Document.number)).where(col(Document.number).like(pattern)))
    seqs = [int(m["seq"]) for n in numbers if (m := _NUMBER_RE.match(n))]
    return DocumentSlot(format_number(kind, year, max(seqs, default=0) + 1), 1)


def store_document(session: Session, *, lead_id: int, kind: str, pdf: bytes, brief_hash: str, number: str,
                   version: int, documents_dir: Path) -> Document:
    """Record and write a rendered document under the slot (``number``, ``version``) it was rendered for.

    Returns the existing document instead when this lead+kind+brief is already issued. Raises ``Conflict``
    when the slot was taken meanwhile (render again with ``next_slot``).
    """
    existing = find_existing(session, lead_id=lead_id, kind=kind, brief_hash=brief_hash)
    if existing is not None:
        return existing
    rel = relative_path(lead_id, kind, number, version)
    document = Document(lead_id=lead_id, kind=kind, number=number, version=version, brief_hash=brief_hash,
                        path=rel, sha256=sha256_hex(pdf), size=len(pdf))
    try:
        with session.begin_nested():  # claim number+version first: the unique index decides races
            session.add(document)
            session.flush()
    except IntegrityError:
        raise Conflict(f"Номер {number} редакция {version} уже выдан", field="number") from None
    write_file(Path(documents_dir) / rel, pdf)
    logger.info("document stored: kind={} number={} v{} lead={} size={}", kind, number, version, lead_id,
                len(pdf))
    return document


def issue_document(session: Session, *, lead_id: int, kind: str, brief_hash: str, documents_dir: Path,
                   render: Callable[[str, int], bytes], issued_at: date | None = None) -> tuple[Document, bool]:
    """Existing document for this brief, or a new number/version rendered by ``render(number, version)``.

    Returns (document, created). Retries with the next slot when a concurrent issue took the same one.
    """
    existing = find_existing(session, lead_id=lead_id, kind=kind, brief_hash=brief_hash)
    if existing is not None:
        return existing, False
    year = (issued_at or date.today()).year
    for _attempt in range(MAX_ATTEMPTS):
        slot = next_slot(session, lead_id=lead_id, kind=kind, year=year)
        pdf = render(slot.number, slot.version)
        try:
            document = store_document(session, lead_id=lead_id, kind=kind, pdf=pdf, brief_hash=brief_hash,
                                      number=slot.number, version=slot.version, documents_dir=documents_dir)
        except Conflict:
            logger.info("document slot {} v{} taken concurrently, retrying", slot.number, slot.version)
            existing = find_existing(session, lead_id=lead_id, kind=kind, brief_hash=brief_hash)
            if existing is not None:
                return existing, False
            continue
        return document, True
    raise Conflict("Не удалось выдать номер документа: слишком много одновременных запросов, повторите позже")
