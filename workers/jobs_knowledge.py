"""Scheduled knowledge-base rescan (hot reload)."""

from __future__ import annotations

from voronka.settings import Settings

RESCAN_SECONDS = 60


def jobs(settings: Settings) -> list[tuple[str, str, str, int]]:
    return [("kb-rescan", "knowledge.rescan", "maintenance", RESCAN_SECONDS)]
