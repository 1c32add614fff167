"""Names of Redis pub/sub channels used to wake long-polling site visitors."""

from __future__ import annotations

SITE_PREFIX = "voronka:site:"


def site_channel(session_id: str) -> str:
    return SITE_PREFIX + session_id
