"""Operations features of the web app, registered with one call: the admin API and pages, the queue dashboard,
``GET /metrics`` (+ its middleware) and the personal-data key ring of this process."""

from __future__ import annotations

from aiohttp import web

from db import crypto
from web import keys
from web.routes import admin_api, admin_queues, admin_ui, metrics


def setup(app: web.Application) -> None:
    crypto.configure(app[keys.SETTINGS])
    metrics.setup(app)
    admin_api.setup(app)
    admin_ui.setup(app)
    admin_queues.setup(app)
