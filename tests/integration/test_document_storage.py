"""Issuing real documents on the real documents table (embedded PostgreSQL): render, number, version, file."""

from __future__ import annotations

import subprocess
import threading
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import Client, Document, Lead
from db.rate_table import DEFAULT_RATES
from pipelines.document.context import brief_hash, build_context
from pipelines.document.render import render_pdf
from pipelines.document.storage import absolute_path, issue_document
from pipelines.price.engine import calculate, validate_brief

DAY = date(2026, 5, 12)


def _lead(session: Session) -> int:
    client = Client(name="Анна")
    session.add(client)
    session.flush()
    lead = Lead(client_id=client.id or 0, channel="telegram", source_tag="telegram-lead", product="ai_manager")
    session.add(lead)
    session.flush()
    assert lead.id is not None
    return lead.id


def _issue(session: Session, settings: Any, lead_id: int, brief: dict[str, Any]) -> tuple[Document, bool]:
    quote = calculate(validate_brief(brief), DEFAULT_RATES)

    def render(number: str, version: int) -> bytes:
        ctx = build_context("proposal", brief=brief, quote=quote, package="optimum", client_name="Анна",
                            company="ООО «Ромашка»", number=number, version=version, settings=settings,
                            payment_url=None, issued_at=DAY)
        return render_pdf("proposal", ctx, max_bytes=settings.max_pdf_bytes).data

    return issue_document(session, lead_id=lead_id, kind="proposal", brief_hash=brief_hash(brief, "optimum"),
                          documents_dir=settings.documents_dir, render=render, issued_at=DAY)


def test_reissue_on_a_changed_brief_is_a_new_version(db: Session, settings: Any) -> None:
    lead_id = _lead(db)
    brief = {"product": "ai_manager", "users": 25, "integrations": 3}
    v1, created = _issue(db, settings, lead_id, brief)
    db.commit()
    assert created and (v1.number, v1.version) == ("КП-2026-0001", 1)

    same, created = _issue(db, settings, lead_id, dict(brief))
    assert not created and same.id == v1.id

    v2, created = _issue(db, settings, lead_id, {**brief, "users": 60})
    db.commit()
    assert created and (v2.number, v2.version) == ("КП-2026-0001", 2)

    files = sorted(p.name for p in (Path(settings.documents_dir) / str(lead_id)).iterdir())
    assert files == ["KP-2026-0001-v1.pdf", "KP-2026-0001-v2.pdf"]
    text = subprocess.run(["pdftotext", str(absolute_path(settings.documents_dir, v2)), "-"],
                          capture_output=True, check=True).stdout.decode()
    assert "КП-2026-0001 (редакция 2)" in text
    rows = db.exec(select(Document).where(Document.lead_id == lead_id)).all()
    assert len(rows) == 2


def test_parallel_issues_get_distinct_numbers(clean_db: Engine, settings: Any) -> None:
    with Session(clean_db) as session:
        leads = [_lead(session) for _ in range(4)]
        session.commit()
    results: list[str] = []
    errors: list[BaseException] = []

    def worker(lead_id: int) -> None:
        try:
            with Session(clean_db, expire_on_commit=False) as session:
                doc, _ = _issue(session, settings, lead_id, {"product": "ai_lawyer", "users": 5})
                session.commit()
                results.append(doc.number)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(lead_id,)) for lead_id in leads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [f"КП-2026-000{i}" for i in range(1, 5)]
