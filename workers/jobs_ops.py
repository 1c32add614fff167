"""Periodic operations jobs for the scheduler: the daily retention purge."""

from __future__ import annotations

from voronka.settings import Settings

RETENTION_EVERY_SECONDS = 24 * 3600


def jobs(settings: Settings) -> list[tuple[str, str, str, int]]:
    return [("privacy-retention", "ops.retention_purge", "maintenance", RETENTION_EVERY_SECONDS)]
