"""Periodic jobs of the channels feature (the scheduler only enqueues them)."""

from __future__ import annotations

from voronka.settings import Settings

TOKEN_CHECK_SECONDS = 600  # the token is refreshed in its last hour (a quarter of the life for short tokens)
MERGE_SWEEP_SECONDS = 120
FORWARD_HELD_SECONDS = 5  # client messages of conversations held by a manager → the managers' chat


def jobs(settings: Settings) -> list[tuple[str, str, str, int]]:
    found = [("channels-merge-sweep", "channels.merge_sweep", "maintenance", MERGE_SWEEP_SECONDS),
             ("channels-forward-held", "channels.forward_held", "maintenance", FORWARD_HELD_SECONDS)]
    if settings.avito_configured:
        found.append(("avito-token-refresh", "avito.refresh_token", "maintenance", TOKEN_CHECK_SECONDS))
    return found
