"""Backups for real: ``voronka backup`` dumps a database (pg_dump v18) and rsyncs the documents into
BACKUP_PATH/<timestamp>/; after a row and a file are deleted, ``voronka restore`` brings both back. Runs against a
separate database on the session's embedded server so the other tests' data is not touched."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from db import crypto
from db.engine import make_engine
from db.models import Client, Document, Lead


@pytest.fixture
def backup_db(database_url: str) -> Iterator[str]:
    name = f"backup_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(make_url(database_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    from db.migrate import upgrade

    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run_cli(args: list[str], *, db_url: str, redis_url: str, settings,  # type: ignore[no-untyped-def]
            stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "ENVIRONMENT": "test", "LOG_JSON": "false",
           "JWT_SECRET_KEY": settings.JWT_SECRET_KEY, "VORONKA_DATA_DIR": str(settings.VORONKA_DATA_DIR),
           "DOCUMENTS_PATH": str(settings.documents_dir), "BACKUP_PATH": str(settings.BACKUP_PATH)}
    return subprocess.run([sys.executable, "-m", "cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def test_backup_then_restore_brings_back_a_deleted_row_and_file(backup_db: str, redis_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    crypto.configure(settings)
    engine = make_engine(backup_db, pool_size=1)
    docs: Path = settings.documents_dir
    pdf = docs / "1" / "KP-2026-0001-v1.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(b"%PDF-1.4 the proposal")
    with Session(engine) as session:
        client = Client(name="Анна Backup", phone="+79990000001")
        session.add(client)
        session.flush()
        assert client.id is not None
        lead = Lead(client_id=client.id, channel="site", source_tag="site-lead", stage="quoted")
        session.add(lead)
        session.flush()
        assert lead.id is not None
        session.add(Document(lead_id=lead.id, kind="proposal", number="КП-2026-0001", path="1/KP-2026-0001-v1.pdf",
                             sha256="x", size=pdf.stat().st_size))
        session.commit()
        lead_id = lead.id

    made = run_cli(["backup"], db_url=backup_db, redis_url=redis_url, settings=settings)
    assert made.returncode == 0, made.stderr
    copies = [p for p in settings.BACKUP_PATH.iterdir() if p.is_dir()]
    assert len(copies) == 1
    copy = copies[0]
    assert (copy / "database.dump").stat().st_size > 0
    assert (copy / "documents" / "1" / "KP-2026-0001-v1.pdf").read_bytes() == b"%PDF-1.4 the proposal"
    assert "manifest.json" in {p.name for p in copy.iterdir()}

    # disaster: a lead row and a document file disappear
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM documents"))
        conn.execute(sa.text("DELETE FROM leads WHERE id = :id"), {"id": lead_id})
    pdf.unlink()
    engine.dispose()

    refused = run_cli(["restore"], db_url=backup_db, redis_url=redis_url, settings=settings, stdin="нет\n")
    assert refused.returncode == 1
    restored = run_cli(["restore", "--from", str(copy), "--yes"], db_url=backup_db, redis_url=redis_url,
                       settings=settings)
    assert restored.returncode == 0, restored.stderr
    assert pdf.read_bytes() == b"%PDF-1.4 the proposal"
    engine = make_engine(backup_db, pool_size=1)
    with Session(engine) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.stage == "quoted"
        client = session.get(Client, lead.client_id)
        assert client is not None and client.name == "Анна Backup"  # still decrypts with the same keys
        assert session.exec(select(Document)).one().number == "КП-2026-0001"
    engine.dispose()


def test_restore_refuses_a_damaged_or_missing_backup(backup_db: str, redis_url: str, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = run_cli(["restore", "--yes"], db_url=backup_db, redis_url=redis_url, settings=settings)
    assert missing.returncode == 2 and "нет ни одной резервной копии" in missing.stderr
    made = run_cli(["backup"], db_url=backup_db, redis_url=redis_url, settings=settings)
    assert made.returncode == 0, made.stderr
    copy = next(p for p in settings.BACKUP_PATH.iterdir() if p.is_dir())
    with (copy / "database.dump").open("r+b") as fh:
        fh.seek(100)
        fh.write(b"garbage!")
    damaged = run_cli(["restore", "--yes"], db_url=backup_db, redis_url=redis_url, settings=settings)
    assert damaged.returncode == 1 and "контрольная сумма" in damaged.stderr
