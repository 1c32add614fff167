"""Knowledge-base hot reload: the scheduled rescan ingests changed files of ``knowledge_base/`` without a restart."""

from __future__ import annotations

from loguru import logger

from pipelines.knowledge.rescan import rescan
from workers.context import runtime
from workers.policy import periodic_actor


@periodic_actor("knowledge.rescan", "maintenance", time_limit_ms=600_000)
def rescan_knowledge() -> None:
    report = rescan(runtime().settings, engine=runtime().deps.engine)
    if not report.nothing_changed:
        logger.info("knowledge base updated: +{} ~{} -{}", report.added, report.changed, report.retired)
