"""Per-IP rate limit on the public endpoints: a Redis sliding window (one sorted set per IP, one Lua script).

``RATE_LIMIT_PER_MINUTE`` requests per client IP in any 60 s. Every request counts once, whatever it does inside —
a long-poll GET holding for 20 s is one hit. Not limited: static files, provider webhooks, health/readiness/metrics,
the staff admin (its own login guard) and CORS preflights. Over the limit → 429 ``rate_limited`` with ``Retry-After``
(raised as ``RateLimited``, mapped to JSON by the errors middleware, which must therefore be registered outside this
one).

The client IP is the peer address; ``X-Forwarded-For`` is read only when the peer is one of ``TRUSTED_PROXIES``
(addresses or CIDR networks), and then the right-most address that is not itself a trusted proxy wins.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from aiohttp import web
from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from voronka.errors import RateLimited
from web import keys

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

WINDOW_MS = 60_000
KEY_PREFIX = "voronka:ratelimit:"
# Staff pages and API sit behind their own login (with its own brute-force guard): a team behind one office IP must
# not share the visitors' per-IP budget.
EXEMPT_PREFIXES = ("/static/", "/api/v1/webhooks/", "/admin/", "/api/v1/admin/")
EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics", "/favicon.ico", "/admin"})
MESSAGE = "Слишком много запросов. Пожалуйста, подождите немного и попробуйте снова."

# KEYS[1] = the IP's sorted set; ARGV = window ms, limit, unique member. Time comes from the Redis server, so every
# web process agrees on it. Returns {allowed 0|1, remaining, retry_after_ms}.
SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then retry = tonumber(oldest[2]) + window - now end
if retry < 1 then retry = 1 end
return {0, 0, retry}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until one more request fits (0 when allowed)


class SlidingWindowLimiter:
    """``hit(identity)`` records one request and says whether it is within ``limit`` per ``window_ms``."""

    def __init__(self, redis: Redis, *, limit: int, window_ms: int = WINDOW_MS, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self.limit = limit
        self.window_ms = window_ms
        self._prefix = prefix
        self._script = redis.register_script(SLIDING_WINDOW_LUA)

    async def hit(self, identity: str) -> Decision:
        allowed, remaining, retry_ms = await self._script(
            keys=[self._prefix + identity], args=[self.window_ms, self.limit, uuid.uuid4().hex])
        return Decision(bool(int(allowed)), int(remaining), int(retry_ms) / 1000.0)


def is_limited_path(method: str, path: str) -> bool:
    if method == "OPTIONS" or path in EXEMPT_PATHS:
        return False
    return not path.startswith(EXEMPT_PREFIXES)


@lru_cache(maxsize=32)
def parse_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            logger.warning("TRUSTED_PROXIES: not an address or network, ignored: {}", entry)
    return tuple(networks)


def _in(address: str, networks: Iterable[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def client_ip(peer: str | None, forwarded_for: str | None, trusted_proxies: Iterable[str]) -> str:
    """The address to limit: the peer, or — behind a trusted proxy — the last untrusted X-Forwarded-For hop."""
    peer = peer or "unknown"
    networks = parse_networks(tuple(trusted_proxies))
    if not forwarded_for or not networks or not _in(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a garbled header: fall back to the proxy itself
    return hops[0] if hops else peer


def request_ip(request: web.Request) -> str:
    settings = request.app[keys.SETTINGS]
    return client_ip(request.remote, request.headers.get("X-Forwarded-For"), settings.TRUSTED_PROXIES)


RATE_LIMITER = web.AppKey("rate_limiter", SlidingWindowLimiter)  # set by web.app once Redis is open


@web.middleware
async def ratelimit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_limited_path(request.method, request.path):
        return await handler(request)
    limiter = request.app[RATE_LIMITER]
    try:
        decision = await limiter.hit(request_ip(request))
    except RedisError as exc:  # the limiter must not take the site down with Redis: let the request through
        logger.warning("rate limiter unavailable, request not limited: {}", type(exc).__name__)
        return await handler(request)
    if not decision.allowed:
        raise RateLimited(MESSAGE, retry_after=decision.retry_after)
    response = await handler(request)
    if not response.prepared:
        response.headers["X-RateLimit-Limit"] = str(limiter.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    return response
