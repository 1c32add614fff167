"""GET /d/{id}?exp=..&sig=.. — a document by its signed, expiring link. A guessed or altered link gets 404/403."""

from __future__ import annotations

import time

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Document
from pipelines.document.links import verify_link
from pipelines.document.storage import absolute_path
from voronka.errors import Forbidden, NotFound
from web import keys


async def download(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    raw_id = request.match_info["document_id"]
    if not (raw_id.isascii() and raw_id.isdigit()):
        raise NotFound("Документ не найден")
    if not verify_link(raw_id, request.query.get("exp"), request.query.get("sig"), settings.link_key,
                       now=time.time()):
        raise Forbidden("Ссылка недействительна или устарела. Попросите в чате прислать документ заново.")
    async with AsyncSession(request.app[keys.DB]) as session:
        document = await session.get(Document, int(raw_id))
    if document is None:
        raise NotFound("Документ не найден")
    path = absolute_path(settings.documents_dir, document)
    if not path.exists():
        raise NotFound("Файл документа не найден")
    response = web.FileResponse(path, headers={
        "Content-Type": "application/pdf",
        "Content-Disposition": f"inline; filename=\"{path.name}\"",
        "Cache-Control": "private, no-store",
    })
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/d/{document_id}", download)
