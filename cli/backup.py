"""``voronka backup [--dest DIR]``: pg_dump of the database and rsync of the documents into
``BACKUP_PATH/<time>/`` (``pipelines/admin/backup.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.output import fail, quiet_logs
from cli.services import with_services
from pipelines.admin.backup import BackupError, backup
from voronka.settings import Settings


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    root = Path(args.dest) if args.dest else settings.BACKUP_PATH

    def body(database_url: str, redis_url: str) -> int:
        try:
            result = backup(database_url, settings.documents_dir, root.resolve())
        except BackupError as exc:
            return fail(f"Резервная копия не сделана: {exc}")
        print(f"Резервная копия: {result.path} (БД {result.dump_bytes} байт, документов {result.documents})")
        return 0

    return with_services(settings, body, personal_data=True)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", help="корневая папка копий (по умолчанию BACKUP_PATH)")
    parser.set_defaults(handler=cmd_backup)
