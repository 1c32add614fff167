"""POST /api/v1/quote — the three packages for a brief (the site calculator uses it). 200 or 422 with the field."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from db.rate_table import RateTable
from db.repo_pricing import load_rate_table
from pipelines.price.engine import quote
from web import keys
from web.jsonutil import json_response
from web.routes.site_chat import read_json

RATES_TTL_SECONDS = 30.0  # the price list is cached this long per web process (``keys.RATES``)


async def current_rates(app: web.Application) -> RateTable:
    """The price list from the database, cached for a few seconds per web process."""
    cache = app[keys.RATES]
    cached = cache.get()
    if cached is not None:
        return cached
    async with AsyncSession(app[keys.DB]) as session:
        rates = await session.run_sync(load_rate_table)
    cache.put(rates)
    return rates


async def post_quote(request: web.Request) -> web.Response:
    body = await read_json(request, max_bytes=16 * 1024)
    result = quote(body, await current_rates(request.app))
    return json_response(result.as_cli_dict())


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/quote", post_quote)
