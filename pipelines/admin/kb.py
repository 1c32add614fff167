"""Knowledge-base documents from the admin: list, upload (a file saved into the knowledge-base folder, then the
folder is ingested), delete (the file is removed, the ingest retires the document), version history, re-ingest.

The folder is the source of truth, exactly as for the scheduled rescan (collection ``knowledge_base``).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from db.models_knowledge import KbChange, KbDocument, KbStatus
from pipelines.knowledge.ingest import IngestReport, ingest_path, list_history
from pipelines.knowledge.parsers import SUPPORTED_SUFFIXES
from pipelines.knowledge.rescan import RESCAN_COLLECTION
from voronka.errors import NotFound, PayloadTooLarge, ValidationError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FOLDER_RE = re.compile(r"^[a-z0-9_-]{1,40}$")
NAME_RE = re.compile(r"^[\w .()-]{1,120}$", re.UNICODE)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def list_documents(session: Session, *, collection: str = RESCAN_COLLECTION,
                   include_retired: bool = False) -> list[dict[str, Any]]:
    statement = select(KbDocument).where(KbDocument.collection == collection)
    if not include_retired:
        statement = statement.where(KbDocument.status == KbStatus.ACTIVE)
    return [{"id": d.id, "source": d.source, "title": d.title, "doc_type": d.doc_type, "version": d.version,
             "status": d.status, "chunks": d.chunk_count, "updated_at": _iso(d.updated_at)}
            for d in session.exec(statement.order_by(col(KbDocument.source)))]


def document_history(session: Session, document_id: int) -> dict[str, Any]:
    doc = session.get(KbDocument, document_id)
    if doc is None:
        raise NotFound("Документ базы знаний не найден")
    changes = session.exec(select(KbChange).where(KbChange.document_id == document_id)
                           .order_by(col(KbChange.created_at).desc(), col(KbChange.id).desc())).all()
    return {"id": doc.id, "source": doc.source, "title": doc.title, "status": doc.status, "version": doc.version,
            "history": [{"action": c.action, "version": c.version, "chunks": c.chunks, "sha256": c.sha256,
                         "at": _iso(c.created_at)} for c in changes]}


def history(session: Session, *, collection: str = RESCAN_COLLECTION, limit: int = 100) -> list[dict[str, Any]]:
    return [{"source": e.source, "title": e.title, "action": e.action, "version": e.version, "chunks": e.chunks,
             "at": _iso(e.at)} for e in list_history(session, collection, limit=limit)]


def report_dict(report: IngestReport) -> dict[str, Any]:
    return {"collection": report.collection, "added": report.added, "changed": report.changed,
            "retired": report.retired, "unchanged": report.unchanged, "reembedded": report.reembedded,
            "chunks": report.chunks, "details": [{"action": a, "source": s} for a, s in report.details],
            "failed": [{"source": s, "reason": r} for s, r in report.failed]}


def reingest(session: Session, kb_dir: Path, *, embedder: Any, cache: Any = None) -> dict[str, Any]:
    if not kb_dir.is_dir():
        raise NotFound(f"Папка базы знаний не найдена: {kb_dir}")
    return report_dict(ingest_path(session, kb_dir, collection=RESCAN_COLLECTION, embedder=embedder, cache=cache))


def safe_target(kb_dir: Path, filename: str, folder: str | None) -> Path:
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name or name.startswith((".", "_")) or not NAME_RE.match(name):
        raise ValidationError("Недопустимое имя файла", field="file")
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ValidationError("Поддерживаются файлы " + ", ".join(SUPPORTED_SUFFIXES), field="file")
    base = kb_dir.resolve()
    target_dir = base
    if folder:
        if not FOLDER_RE.match(folder):
            raise ValidationError("Папка: латиница, цифры, _ и -", field="folder")
        target_dir = base / folder
    target = (target_dir / name).resolve()
    if base not in target.parents:
        raise ValidationError("Недопустимый путь", field="file")
    return target


def save_upload(kb_dir: Path, filename: str, data: bytes, folder: str | None = None) -> Path:
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge("Файл больше 10 МБ", field="file")
    if not data:
        raise ValidationError("Файл пустой", field="file")
    target = safe_target(kb_dir, filename, folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def upload(session: Session, kb_dir: Path, filename: str, data: bytes, *, folder: str | None = None,
           embedder: Any, cache: Any = None) -> dict[str, Any]:
    target = save_upload(kb_dir, filename, data, folder)
    result = reingest(session, kb_dir, embedder=embedder, cache=cache)
    source = f"{RESCAN_COLLECTION}/{target.relative_to(kb_dir.resolve()).as_posix()}"
    failed = [f for f in result["failed"] if f["source"] == source]
    if failed:
        target.unlink(missing_ok=True)
        raise ValidationError(f"Не удалось прочитать файл: {failed[0]['reason']}", field="file")
    doc = session.exec(select(KbDocument).where(KbDocument.source == source)).first()
    result["document"] = None if doc is None else {"id": doc.id, "source": doc.source, "title": doc.title,
                                                   "version": doc.version, "chunks": doc.chunk_count}
    return result


def delete(session: Session, kb_dir: Path, document_id: int, *, embedder: Any, cache: Any = None) -> dict[str, Any]:
    doc = session.get(KbDocument, document_id)
    if doc is None or doc.collection != RESCAN_COLLECTION:
        raise NotFound("Документ базы знаний не найден")
    rel = doc.source.split("/", 1)[1] if "/" in doc.source else doc.source
    base = kb_dir.resolve()
    path = (base / rel).resolve()
    if base not in path.parents:
        raise ValidationError("Недопустимый путь документа", field="id")
    path.unlink(missing_ok=True)
    return reingest(session, kb_dir, embedder=embedder, cache=cache)
