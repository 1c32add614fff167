"""The lifecycle every local fake shares: an aiohttp ``TestServer`` on 127.0.0.1, usable as an async context manager."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class RecordedRequest:
    """One request a fake received, for the test to assert on."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    status: int = 0


class LocalServer:
    """Mix into a fake that builds ``self.app`` (and sets ``self._server = None``) in its ``__post_init__``."""

    app: web.Application
    _server: TestServer | None

    def server_app(self) -> web.Application:
        """The application to serve (override to build it at start)."""
        return self.app

    async def start(self) -> str:
        self._server = TestServer(self.server_app(), host="127.0.0.1")
        await self._server.start_server()
        return self.started_url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake not started")
        return str(self._server.make_url("")).rstrip("/")

    @property
    def started_url(self) -> str:
        """What ``start()`` returns: the URL a client's base-URL setting takes."""
        return self.root_url
