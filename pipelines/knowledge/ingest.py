"""Ingest a folder (or one file) of the knowledge base: parse, chunk, embed, store with versions and history.

- A new file is ``added`` (version 1).
- A file whose content hash changed becomes a new version; the chunks of the old version are retired (kept, inactive).
- A file that disappeared from the folder is ``retired`` (document and chunks inactive).
- An unchanged file is left alone, unless its vectors were made by another embedder: then it is re-embedded.
Concurrent ingests of one collection are serialised by a transaction-level advisory lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from loguru import logger
from sqlmodel import Session, select

from db.models import utcnow
from db.models_knowledge import KbAction, KbChange, KbChunk, KbDocument, KbStatus
from pipelines.knowledge.cache import SearchCache
from pipelines.knowledge.chunker import MAX_CHARS, Chunk, chunk_document, doc_type_for
from pipelines.knowledge.embedders import Embedder
from pipelines.knowledge.parsers import SUPPORTED_SUFFIXES, ParseError, parse_file
from pipelines.knowledge.search import forget_vocabulary
from pipelines.knowledge.vector_index import ensure_vector_index

EMBED_BATCH = 64


@dataclass
class IngestReport:
    collection: str
    added: int = 0
    changed: int = 0
    retired: int = 0
    unchanged: int = 0
    reembedded: int = 0
    chunks: int = 0  # chunks written (new versions and re-embedded ones)
    details: list[tuple[str, str]] = field(default_factory=list)  # (action, source)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    @property
    def nothing_changed(self) -> bool:
        return not (self.added or self.changed or self.retired or self.reembedded)

    @property
    def documents(self) -> int:
        return self.added + self.changed + self.unchanged + self.reembedded


@dataclass(frozen=True)
class HistoryEntry:
    source: str
    title: str
    action: str
    version: int
    chunks: int
    at: datetime


def _files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith((".", "_")) for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            yield path


def _lock(session: Session, collection: str) -> None:
    key = int.from_bytes(hashlib.blake2b(f"kb:{collection}".encode(), digest_size=8).digest(), "big", signed=True)
    session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _embed_all(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        vectors.extend(embedder.embed(texts[start:start + EMBED_BATCH]))
    if len(vectors) != len(texts):
        raise ValueError(f"embedder {embedder.name} returned {len(vectors)} vectors for {len(texts)} texts")
    return vectors


def _chunk_vectors(embedder: Embedder, headings: list[str], texts: list[str]) -> list[list[float]]:
    """Vectors of "heading + text"; an embedder with ``heading_weight`` > 0 also gets the heading's own vector
    added with that weight (then the sum is L2-normalised)."""
    vectors = _embed_all(embedder, [f"{h}\n{t}" for h, t in zip(headings, texts, strict=True)])
    weight = float(getattr(embedder, "heading_weight", 0.0) or 0.0)
    if weight <= 0:
        return vectors
    unique = sorted(set(headings))
    by_heading = dict(zip(unique, _embed_all(embedder, unique), strict=True))
    out = []
    for heading, vec in zip(headings, vectors, strict=True):
        combined = np.asarray(vec) + weight * np.asarray(by_heading[heading])
        norm = float(np.linalg.norm(combined))
        out.append((combined / norm if norm else combined).tolist())
    return out


def _insert_chunks(session: Session, doc: KbDocument, chunks: list[Chunk], embedder: Embedder) -> int:
    if not chunks:
        return 0
    vectors = _chunk_vectors(embedder, [c.heading for c in chunks], [c.text for c in chunks])
    now = utcnow()
    rows = [
        {"document_id": doc.id, "version": doc.version, "ordinal": c.ordinal, "collection": doc.collection,
         "doc_type": doc.doc_type, "heading": c.heading, "text": c.text, "embedding": vec,
         "embedder": embedder.name, "embedding_dim": embedder.dim, "active": True, "created_at": now}
        for c, vec in zip(chunks, vectors, strict=True)
    ]
    session.execute(sa.insert(KbChunk), rows)
    return len(rows)


def _retire_chunks(session: Session, document_id: int) -> None:
    session.execute(sa.update(KbChunk).where(KbChunk.document_id == document_id,  # type: ignore[arg-type]
                                             KbChunk.active.is_(True))  # type: ignore[attr-defined]
                    .values(active=False))


def _reembed(session: Session, doc: KbDocument, embedder: Embedder) -> int:
    """Re-embed the active chunks of ``doc`` made by another embedder; returns how many."""
    rows = session.execute(sa.text(
        "SELECT id, heading, text FROM kb_chunks WHERE document_id = :d AND active AND embedder <> :e "
        "ORDER BY ordinal"), {"d": doc.id, "e": embedder.name}).all()
    if not rows:
        return 0
    vectors = _chunk_vectors(embedder, [r.heading for r in rows], [r.text for r in rows])
    for row, vec in zip(rows, vectors, strict=True):
        session.execute(sa.update(KbChunk).where(sa.column("id") == row.id)
                        .values(embedding=vec, embedder=embedder.name, embedding_dim=embedder.dim))
    return len(rows)


def _record(session: Session, doc: KbDocument, action: str) -> None:
    assert doc.id is not None
    session.add(KbChange(document_id=doc.id, collection=doc.collection, source=doc.source, action=action,
                         version=doc.version, sha256=doc.sha256, chunks=doc.chunk_count))


def ingest_path(session: Session, path: str | Path, *, collection: str | None = None, embedder: Embedder,
                cache: SearchCache | None = None, max_chars: int = MAX_CHARS) -> IngestReport:
    """Bring the stored collection in line with ``path`` (a folder, or a single file). Commits."""
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"нет такого пути: {path}")
    is_dir = path.is_dir()
    root = path if is_dir else path.parent
    collection = collection or root.name
    report = IngestReport(collection)
    _lock(session, collection)
    ensure_vector_index(session, embedder)

    existing = {d.source: d for d in session.exec(select(KbDocument).where(KbDocument.collection == collection))}
    seen: set[str] = set()
    for file in (_files(root) if is_dir else [path]):
        rel = file.relative_to(root).as_posix()
        source = f"{collection}/{rel}"
        seen.add(source)
        raw = file.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        doc = existing.get(source)
        if doc is not None and doc.status == KbStatus.ACTIVE and doc.sha256 == digest:
            written = _reembed(session, doc, embedder)
            if written:
                report.reembedded += 1
                report.chunks += written
                report.details.append(("reembedded", source))
            else:
                report.unchanged += 1
            continue
        try:
            parsed = parse_file(file)
        except ParseError as exc:
            logger.warning("kb ingest: {} skipped: {}", source, exc)
            report.failed.append((source, str(exc)))
            continue
        doc_type = doc_type_for(rel)
        chunks = chunk_document(parsed, doc_type, max_chars=max_chars)
        now = utcnow()
        if doc is None:
            doc = KbDocument(collection=collection, source=source, title=parsed.title, doc_type=doc_type,
                             sha256=digest, version=1, status=KbStatus.ACTIVE, chunk_count=len(chunks),
                             created_at=now, updated_at=now)
            session.add(doc)
            session.flush()
            action = KbAction.ADDED
        else:
            assert doc.id is not None
            _retire_chunks(session, doc.id)
            action = KbAction.ADDED if doc.status == KbStatus.RETIRED else KbAction.CHANGED
            doc.title, doc.doc_type, doc.sha256 = parsed.title, doc_type, digest
            doc.version += 1
            doc.status, doc.retired_at, doc.updated_at, doc.chunk_count = KbStatus.ACTIVE, None, now, len(chunks)
            session.add(doc)
            session.flush()
        report.chunks += _insert_chunks(session, doc, chunks, embedder)
        _record(session, doc, action)
        report.details.append((action, source))
        if action == KbAction.ADDED:
            report.added += 1
        else:
            report.changed += 1

    if is_dir:
        for source, doc in sorted(existing.items()):
            if source in seen or doc.status != KbStatus.ACTIVE:
                continue
            assert doc.id is not None
            _retire_chunks(session, doc.id)
            doc.status, doc.retired_at, doc.updated_at = KbStatus.RETIRED, utcnow(), utcnow()
            session.add(doc)
            session.flush()
            _record(session, doc, KbAction.RETIRED)
            report.retired += 1
            report.details.append((KbAction.RETIRED, source))
    session.commit()
    if not report.nothing_changed:
        forget_vocabulary()
    if cache is not None and not report.nothing_changed:
        cache.invalidate()
    logger.info("kb ingest {}: added={} changed={} retired={} unchanged={} reembedded={} chunks={} failed={}",
                collection, report.added, report.changed, report.retired, report.unchanged, report.reembedded,
                report.chunks, len(report.failed))
    return report


def list_history(session: Session, collection: str | None = None, *, limit: int = 200) -> list[HistoryEntry]:
    """Changes of the knowledge base, newest first."""
    sql = ("SELECT ch.source, d.title, ch.action, ch.version, ch.chunks, ch.created_at FROM kb_changes ch "
           "JOIN kb_documents d ON d.id = ch.document_id")
    params: dict[str, object] = {"n": limit}
    if collection is not None:
        sql += " WHERE ch.collection = :c"
        params["c"] = collection
    rows = session.execute(sa.text(sql + " ORDER BY ch.created_at DESC, ch.id DESC LIMIT :n"), params).all()
    return [HistoryEntry(source=r.source, title=r.title, action=r.action, version=r.version, chunks=r.chunks,
                         at=r.created_at) for r in rows]
