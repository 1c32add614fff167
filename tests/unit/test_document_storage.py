"""Numbering, versions and files of issued documents (SQLite stands in for the documents table here;
tests/integration/test_document_storage.py runs the same rules on PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, SQLModel

from db.models import Document
from pipelines.document.storage import (
    absolute_path,
    file_name,
    issue_document,
    next_slot,
    store_document,
)
from voronka.errors import Conflict, ValidationError


@pytest.fixture
def documents_db() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["documents"]])
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def fake_pdf(number: str, version: int) -> bytes:
    return f"%PDF-1.7 {number} v{version}".encode()


def issue(documents_db: Session, tmp_path: Path, lead_id: int, kind: str, brief_hash: str,
          calls: list[tuple[str, int]] | None = None) -> tuple[Document, bool]:
    def render(number: str, version: int) -> bytes:
        if calls is not None:
            calls.append((number, version))
        return fake_pdf(number, version)

    return issue_document(documents_db, lead_id=lead_id, kind=kind, brief_hash=brief_hash, documents_dir=tmp_path,
                          render=render)


def test_first_document_gets_number_one_and_an_ascii_file(documents_db: Session, tmp_path: Path) -> None:
    doc, created = issue(documents_db, tmp_path, 7, "proposal", "h1")
    assert created
    assert doc.number.startswith("КП-") and doc.number.endswith("-0001")
    assert doc.version == 1
    year = doc.number.split("-")[1]
    assert doc.path == f"7/KP-{year}-0001-v1.pdf"
    path = absolute_path(tmp_path, doc)
    assert path.read_bytes() == fake_pdf(doc.number, 1)
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.size == path.stat().st_size


def test_retry_with_same_brief_returns_the_same_document(documents_db: Session, tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []
    first, _ = issue(documents_db, tmp_path, 7, "proposal", "h1", calls)
    again, created = issue(documents_db, tmp_path, 7, "proposal", "h1", calls)
    assert not created
    assert again.id == first.id
    assert len(calls) == 1, "nothing is rendered again"
    assert len(list((tmp_path / "7").glob("*.pdf"))) == 1


def test_changed_brief_makes_a_new_version_and_keeps_the_old_file(documents_db: Session, tmp_path: Path) -> None:
    v1, _ = issue(documents_db, tmp_path, 7, "proposal", "h1")
    v1_bytes = absolute_path(tmp_path, v1).read_bytes()
    v2, created = issue(documents_db, tmp_path, 7, "proposal", "h2")
    assert created
    assert (v2.number, v2.version) == (v1.number, 2)
    assert v2.path.endswith("-v2.pdf")
    assert absolute_path(tmp_path, v1).read_bytes() == v1_bytes
    # going back to the first brief finds the first document again
    back, created = issue(documents_db, tmp_path, 7, "proposal", "h1")
    assert not created and back.id == v1.id


def test_numbers_run_per_kind_across_leads(documents_db: Session, tmp_path: Path) -> None:
    a, _ = issue(documents_db, tmp_path, 1, "proposal", "h")
    b, _ = issue(documents_db, tmp_path, 2, "proposal", "h")
    c, _ = issue(documents_db, tmp_path, 2, "invoice", "h")
    d, _ = issue(documents_db, tmp_path, 2, "contract", "h")
    assert a.number.endswith("-0001") and b.number.endswith("-0002")
    assert c.number.startswith("СЧ-") and c.number.endswith("-0001")
    assert d.number.startswith("ДГ-")
    assert c.path.startswith("2/SCH-") and d.path.startswith("2/DG-")


def test_a_taken_slot_is_a_conflict_and_nothing_is_overwritten(documents_db: Session, tmp_path: Path) -> None:
    doc, _ = issue(documents_db, tmp_path, 7, "proposal", "h1")
    before = absolute_path(tmp_path, doc).read_bytes()
    with pytest.raises(Conflict):
        store_document(documents_db, lead_id=8, kind="proposal", pdf=b"%PDF other", brief_hash="x",
                       number=doc.number, version=doc.version, documents_dir=tmp_path)
    assert absolute_path(tmp_path, doc).read_bytes() == before


def test_concurrent_issue_takes_the_next_slot(documents_db: Session, tmp_path: Path) -> None:
    year_doc, _ = issue(documents_db, tmp_path, 1, "proposal", "h")
    taken = next_slot(documents_db, lead_id=2, kind="proposal", year=int(year_doc.number.split("-")[1]))
    calls: list[tuple[str, int]] = []

    def render(number: str, version: int) -> bytes:
        calls.append((number, version))
        if len(calls) == 1:  # someone else stores this slot while we render
            store_document(documents_db, lead_id=3, kind="proposal", pdf=b"%PDF theirs", brief_hash="z",
                           number=number, version=version, documents_dir=tmp_path)
        return fake_pdf(number, version)

    doc, created = issue_document(documents_db, lead_id=2, kind="proposal", brief_hash="h", documents_dir=tmp_path,
                                  render=render)
    assert created
    assert calls[0] == (taken.number, 1)
    assert doc.number != taken.number and doc.number.endswith("-0003")


def test_file_names() -> None:
    assert file_name("proposal", "КП-2026-0001", 2) == "KP-2026-0001-v2.pdf"
    assert file_name("invoice", "СЧ-2026-0123", 1) == "SCH-2026-0123-v1.pdf"
    with pytest.raises(ValidationError):
        file_name("proposal", "../../etc/passwd", 1)
    with pytest.raises(ValidationError):
        file_name("letter", "КП-2026-0001", 1)
