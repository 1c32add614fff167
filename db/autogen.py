"""Developer tool: ``python -m db.autogen <rev_id> <message>`` autogenerates a migration against a throwaway embedded
Postgres migrated to head. Review the result by hand (drop unrelated drift) before committing."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from db.embedded import EmbeddedServices, ensure_runtime_dir
from db.migrate import alembic_config, upgrade


def main() -> None:
    rev_id, message = sys.argv[1], " ".join(sys.argv[2:]) or "change"
    ensure_runtime_dir()
    services = EmbeddedServices(Path(tempfile.mkdtemp(prefix="voronka-autogen-")), redis_persist=False)
    services.start()
    try:
        upgrade(services.database_url)
        command.revision(alembic_config(services.database_url), message=message, autogenerate=True, rev_id=rev_id)
    finally:
        services.stop()


if __name__ == "__main__":
    main()
