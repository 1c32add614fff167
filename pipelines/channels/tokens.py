"""The Avito OAuth token kept fresh by a periodic job (the token itself lives in Redis, shared by all processes)."""

from __future__ import annotations

from integrations.avito import AvitoClient


async def keep_token_fresh(client: AvitoClient, *, within: float) -> bool:
    """Refresh the token now if it would enter its last hour (its refresh window) within ``within`` seconds, so a
    job running every ``within`` seconds always refreshes it at least an hour before it expires. True if refreshed."""
    if await client.seconds_until_refresh() > within:
        return False
    await client.refresh_token(force=True)
    return True
