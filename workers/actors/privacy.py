"""Operations actors: the personal-data retention purge (DATA_RETENTION_DAYS)."""

from __future__ import annotations

from loguru import logger

from pipelines.privacy import purge_expired
from workers.context import runtime
from workers.policy import periodic_actor


@periodic_actor("ops.retention_purge", "maintenance", time_limit_ms=1_800_000)
def retention_purge() -> None:
    rt = runtime()
    erased = purge_expired(rt.deps.engine, rt.settings.DATA_RETENTION_DAYS, documents_dir=rt.settings.documents_dir,
                           redis=rt.deps.redis)
    if erased:
        logger.info("retention purge: personal data of {} leads erased", erased)
