"""Hot search results in Redis, invalidated on ingest by bumping a generation counter.

Keys: ``kb:gen`` (the generation, an integer) and ``kb:search:<gen>:<sha1 of the query and its options>`` (JSON list
of hits, TTL ``ttl_seconds``). Bumping the generation makes every older entry unreachable; they expire on their own.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENERATION_KEY = "kb:gen"
KEY_PREFIX = "kb:search:"
DEFAULT_TTL_SECONDS = 600


class SearchCache:
    def __init__(self, client: Any, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self.client = client  # a sync redis.Redis
        self.ttl_seconds = ttl_seconds

    def generation(self) -> int:
        raw = self.client.get(GENERATION_KEY)
        return int(raw) if raw is not None else 0

    def invalidate(self) -> int:
        """Make every cached result stale; returns the new generation."""
        return int(self.client.incr(GENERATION_KEY))

    def key(self, params: dict[str, Any]) -> str:
        digest = hashlib.sha1(json.dumps(params, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        return f"{KEY_PREFIX}{self.generation()}:{digest}"

    def get(self, key: str) -> list[dict[str, Any]] | None:
        raw = self.client.get(key)
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, list) else None

    def put(self, key: str, hits: list[dict[str, Any]]) -> None:
        self.client.set(key, json.dumps(hits, ensure_ascii=False), ex=self.ttl_seconds)
