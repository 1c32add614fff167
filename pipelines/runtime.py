"""What a pipeline needs from its process: settings, the database, Redis, the LLM, the embedder and the async
bridge — typed fields of one ``Runtime``, built once per process and passed in as ``deps``.

The worker builds it in ``workers.context``; tests build their own. Members that are expensive or need the event
loop are created on first use (``cached_property``, one per runtime) from the fields, so a test needs only
``settings`` and ``engine``. Async clients live on ``bridge``'s one loop; sync code calls them with
``deps.bridge.run(coro, timeout=...)``. The channel clients (``pipelines.channels.clients``) are not here: the
channel steps take them as an argument, so this module depends on no capability package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import redis as redis_lib
import redis.asyncio as aioredis
from loguru import logger
from sqlalchemy import Engine

from pipelines.knowledge.embedders import Embedder, make_embedder
from voronka.asyncbridge import AsyncBridge, shared_bridge
from voronka.settings import Settings

if TYPE_CHECKING:  # an annotation only: the worker builds the router (its SDKs take seconds to import)
    from integrations.llm.router import LLMRouter

_ASYNC_REDIS_KWARGS = ("host", "port", "db", "username", "password", "path", "socket_timeout",
                       "socket_connect_timeout")


@dataclass(eq=False)
class Runtime:
    settings: Settings
    engine: Engine
    redis: redis_lib.Redis | None = None  # sync client: conversation memory, search cache, site notifications
    llm: LLMRouter | None = None  # None: offline understanding and replies
    redis_url: str | None = None  # the async client's server (default: settings, else the sync client's)
    bridge: AsyncBridge = field(default_factory=shared_bridge)

    @cached_property
    def embedder(self) -> Embedder:
        """The knowledge-base embedder of ``KB_EMBEDDER`` (created on first search)."""
        return make_embedder(self.settings)

    @cached_property
    def async_redis(self) -> aioredis.Redis:
        """An asyncio Redis client on the sync client's server, for code on ``bridge`` (the amoCRM limiter)."""
        url = self.redis_url or self.settings.redis_url
        if url:
            return aioredis.Redis.from_url(url)
        if self.redis is None:
            raise RuntimeError("no Redis: set REDIS_URL or give the runtime a redis client")
        kwargs = {k: v for k, v in self.redis.connection_pool.connection_kwargs.items() if k in _ASYNC_REDIS_KWARGS}
        if "path" in kwargs:
            kwargs["unix_socket_path"] = kwargs.pop("path")
        return aioredis.Redis(**kwargs)

    def close(self) -> None:
        """Close the async clients on the bridge (the bridge itself belongs to the process)."""
        closers = []
        if "async_redis" in self.__dict__:
            closers.append(self.async_redis.aclose())
        if self.llm is not None:
            closers.append(self.llm.aclose())
        for closer in closers:
            try:
                self.bridge.run(closer, timeout=10)
            except Exception as exc:  # closing is best effort: the process is going away
                logger.warning("runtime client not closed: {}", type(exc).__name__)
        embedder_close = getattr(self.__dict__.get("embedder"), "close", None)
        if callable(embedder_close):
            embedder_close()
