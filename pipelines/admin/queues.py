"""The Dramatiq queues as the Redis broker keeps them: counts, messages, one message, requeue and delete.

Key layout of ``dramatiq.brokers.redis.RedisBroker`` (see its ``dispatch.lua``), ``ns`` being the broker namespace:

- ``ns:<q>`` — list of redis message ids ready to be fetched (workers ``LPOP`` from the head);
- ``ns:<q>.msgs`` — hash redis message id → encoded message, for ready *and* fetched-but-unacked messages;
- ``ns:<q>.DQ`` / ``ns:<q>.DQ.msgs`` — the delay queue, the same pair; a worker fetches delayed messages at once and
  keeps them in memory until their ``eta``, then enqueues a copy onto ``<q>`` and acks the delayed one;
- ``ns:<q>.XQ`` — sorted set of dead-lettered ids scored by when they died; ``ns:<q>.XQ.msgs`` their messages;
- ``ns:__acks__.<worker id>.<q>`` — set of ids a worker fetched and has not acked yet (in progress);
- ``ns:__heartbeats__`` — sorted set worker id → last heartbeat (ms).

Every change is one Lua script, so a message is never in two places nor lost between them. A delayed message a
worker already holds cannot be taken back from its memory: moving or deleting it is refused.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dramatiq import Message

from pipelines.admin.paging import PageRequest
from voronka.errors import Conflict, NotFound, ValidationError
from voronka.logs import mask

STATES = ("ready", "delayed", "in_progress", "dead")
STATE_LABELS = {"ready": "В очереди", "delayed": "Отложено", "in_progress": "В работе", "dead": "Мёртвые"}
KNOWN_QUEUES = ("inbound", "delivery", "integrate", "maintenance", "documents", "deals")
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
DELAYED_SCAN_LIMIT = 10_000  # delayed messages are listed sorted by eta: read at most this many
_SUFFIXES = (".DQ.msgs", ".XQ.msgs", ".msgs", ".DQ", ".XQ")  # longest first

# dead → ready and delayed → ready: remove from the source, then hset + rpush exactly as "enqueue" does.
# Returns 1 moved, 0 gone, -1 held by a worker (a delayed message already fetched).
_MOVE_FROM_DEAD = """
if redis.call("zrem", KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call("hdel", KEYS[2], ARGV[1])
redis.call("hset", KEYS[4], ARGV[1], ARGV[2])
redis.call("rpush", KEYS[3], ARGV[1])
return 1
"""
_MOVE_FROM_DELAYED = """
if redis.call("lrem", KEYS[1], 1, ARGV[1]) == 0 then
  if redis.call("hexists", KEYS[2], ARGV[1]) == 1 then return -1 end
  return 0
end
redis.call("hdel", KEYS[2], ARGV[1])
redis.call("hset", KEYS[4], ARGV[1], ARGV[2])
redis.call("rpush", KEYS[3], ARGV[1])
return 1
"""
# ready / delayed → gone (only while still in the list, i.e. no worker has it): 1 deleted, 0 gone, -1 held
_DELETE_LISTED = """
if redis.call("lrem", KEYS[1], 1, ARGV[1]) == 0 then
  if redis.call("hexists", KEYS[2], ARGV[1]) == 1 then return -1 end
  return 0
end
redis.call("hdel", KEYS[2], ARGV[1])
return 1
"""
_DELETE_DEAD = """
if redis.call("zrem", KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call("hdel", KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class QueueKeys:
    namespace: str
    queue: str

    @property
    def ready(self) -> str:
        return f"{self.namespace}:{self.queue}"

    @property
    def msgs(self) -> str:
        return f"{self.ready}.msgs"

    @property
    def delayed(self) -> str:
        return f"{self.ready}.DQ"

    @property
    def delayed_msgs(self) -> str:
        return f"{self.ready}.DQ.msgs"

    @property
    def dead(self) -> str:
        return f"{self.ready}.XQ"

    @property
    def dead_msgs(self) -> str:
        return f"{self.ready}.XQ.msgs"

    @property
    def heartbeats(self) -> str:
        return f"{self.namespace}:__heartbeats__"


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def check_queue(name: str) -> str:
    if not QUEUE_NAME.match(name) or name.endswith((".DQ", ".XQ", ".msgs")):
        raise ValidationError("Неверное имя очереди", field="queue")
    return name


def check_state(state: str) -> str:
    if state not in STATES:
        raise ValidationError(f"Состояние: одно из {', '.join(STATES)}", field="state")
    return state


def _acks_prefix(namespace: str) -> str:
    return f"{namespace}:__acks__."


def _split_acks_key(namespace: str, key: str) -> tuple[str, str] | None:
    """``ns:__acks__.<worker id>.<queue>`` → (worker id, queue); worker ids are UUIDs (no dots)."""
    rest = key[len(_acks_prefix(namespace)):]
    worker, dot, queue = rest.partition(".")
    return (worker, queue) if dot and queue else None


async def _acks_keys(redis: Any, namespace: str) -> list[tuple[str, str, str]]:
    """(key, worker id, queue) of every acks set."""
    found = []
    async for raw in redis.scan_iter(match=f"{_acks_prefix(namespace)}*", count=500):
        key = _text(raw)
        parts = _split_acks_key(namespace, key)
        if parts:
            found.append((key, *parts))
    return found


def _queue_of_key(name: str) -> str | None:
    """The queue a broker key (without the namespace) belongs to; None for our other keys (``ratelimit:…``)."""
    if name.startswith("__") or ":" in name:
        return None
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name if QUEUE_NAME.match(name) and not name.endswith((".DQ", ".XQ")) else None


async def queue_names(redis: Any, namespace: str, *, known: Iterable[str] = KNOWN_QUEUES) -> list[str]:
    """The known queues (shown even while empty: the entry point passes the ones its actors use) plus every queue
    that has broker keys in Redis (delay/dead-letter keys map to their queue). Other keys in the namespace (rate
    limits, locks, memory: ``ns:<word>:…``) are not queues."""
    names = {*KNOWN_QUEUES, *known}
    prefix = f"{namespace}:"
    async for raw in redis.scan_iter(match=f"{prefix}*", count=500):
        queue = _queue_of_key(_text(raw)[len(prefix):])
        if queue:
            names.add(queue)
    for _, _, queue in await _acks_keys(redis, namespace):
        if QUEUE_NAME.match(queue) and not queue.endswith(".DQ"):
            names.add(queue)
    return sorted(names)


async def counts(redis: Any, namespace: str, *, known: Iterable[str] = KNOWN_QUEUES) -> list[dict[str, Any]]:
    """Per queue: ready (in the list), delayed (in the delay queue, held by a worker or not), in progress (fetched,
    not acked), dead (dead-lettered)."""
    names = await queue_names(redis, namespace, known=known)
    acks = await _acks_keys(redis, namespace)
    async with redis.pipeline(transaction=True) as pipe:
        for name in names:
            k = QueueKeys(namespace, name)
            pipe.llen(k.ready)
            pipe.hlen(k.delayed_msgs)
            pipe.zcard(k.dead)
        for key, _, _ in acks:
            pipe.scard(key)
        values = await pipe.execute()
    rows: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        ready, delayed, dead = values[3 * i: 3 * i + 3]
        rows[name] = {"queue": name, "ready": int(ready), "delayed": int(delayed), "in_progress": 0,
                      "dead": int(dead)}
    for (_, _, queue), n in zip(acks, values[3 * len(names):], strict=True):
        if queue in rows:
            rows[queue]["in_progress"] += int(n)
    return list(rows.values())


def _decode(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        return Message.decode(raw).asdict()
    except Exception:
        try:
            data = json.loads(raw)
            return data if isinstance(data, dict) else {"raw": _text(raw)}
        except ValueError:
            return {"raw": raw.decode(errors="replace")}


_ID_OPTIONS = frozenset({"redis_message_id", "lead_id", "message_id"})


def _masked(value: Any) -> Any:
    """Strings with e-mails, phones, card numbers and tokens hidden (as in the logs), in nested args too."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: v if k in _ID_OPTIONS else _masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v) for v in value]
    return value


def _ms_to_seconds(value: Any) -> float | None:
    return value / 1000 if isinstance(value, (int, float)) else None


def _summary(redis_id: str, data: dict[str, Any] | None, state: str, **extra: Any) -> dict[str, Any]:
    data = data or {}
    options = data.get("options") or {}
    traceback = str(options.get("traceback") or "").strip()
    last_line = mask(traceback.splitlines()[-1]) if traceback else ""
    return {"id": redis_id, "state": state, "message_id": data.get("message_id"), "actor": data.get("actor_name"),
            "queue_name": data.get("queue_name"), "args": _masked(list(data.get("args") or [])),
            "kwargs": _masked(dict(data.get("kwargs") or {})),
            "enqueued_at": _ms_to_seconds(data.get("message_timestamp")),
            "retries": options.get("retries", 0), "max_retries": options.get("max_retries"),
            "eta": _ms_to_seconds(options.get("eta")), "error": last_line, "missing": not data, **extra}


async def list_messages(redis: Any, namespace: str, queue: str, state: str, page: PageRequest) -> dict[str, Any]:
    """One page of a queue's messages in one state. Ready: in fetch order; delayed: by eta; in progress: by enqueue
    time; dead: newest death first."""
    k = QueueKeys(namespace, check_queue(queue))
    start, stop = page.offset, page.offset + page.per_page - 1
    items: list[dict[str, Any]] = []
    if state == "ready":
        total = int(await redis.llen(k.ready))
        ids = [_text(i) for i in await redis.lrange(k.ready, start, stop)]
        raws = await redis.hmget(k.msgs, ids) if ids else []
        items = [_summary(i, _decode(r), state, position=start + n + 1) for n, (i, r) in enumerate(zip(ids, raws,
                                                                                                      strict=True))]
    elif state == "dead":
        total = int(await redis.zcard(k.dead))
        pairs = await redis.zrevrange(k.dead, start, stop, withscores=True)
        ids = [_text(i) for i, _ in pairs]
        raws = await redis.hmget(k.dead_msgs, ids) if ids else []
        items = [_summary(i, _decode(r), state, dead_at=score / 1000)
                 for (i, r), (_, score) in zip(zip(ids, raws, strict=True), pairs, strict=True)]
    elif state == "delayed":
        total = int(await redis.hlen(k.delayed_msgs))
        listed = {_text(i) for i in await redis.lrange(k.delayed, 0, -1)}
        everything: list[dict[str, Any]] = []
        async for raw_id, raw in redis.hscan_iter(k.delayed_msgs, count=500):
            i = _text(raw_id)
            everything.append(_summary(i, _decode(raw), state, held=i not in listed))
            if len(everything) >= DELAYED_SCAN_LIMIT:
                break
        everything.sort(key=lambda m: (m["eta"] or 0, m["id"]))
        items = everything[start: stop + 1]
    elif state == "in_progress":
        beats = await _heartbeats(redis, k)
        owned: list[tuple[str, str]] = []
        for key, worker, q in await _acks_keys(redis, namespace):
            if q == queue:
                owned.extend((_text(i), worker) for i in await redis.smembers(key))
        total = len(owned)
        raws = await redis.hmget(k.msgs, [i for i, _ in owned]) if owned else []
        everything = [_summary(i, _decode(r), state, worker=w, heartbeat_at=beats.get(w))
                      for (i, w), r in zip(owned, raws, strict=True)]
        everything.sort(key=lambda m: (m["enqueued_at"] or 0, m["id"]))
        items = everything[start: stop + 1]
    else:
        check_state(state)
        raise AssertionError(state)
    return {**page.result(items, total), "queue": queue, "state": state}


async def _heartbeats(redis: Any, k: QueueKeys) -> dict[str, float]:
    return {_text(w): score / 1000 for w, score in await redis.zrange(k.heartbeats, 0, -1, withscores=True)}


async def _locate(redis: Any, k: QueueKeys, redis_id: str) -> tuple[str, bytes, dict[str, Any]] | None:
    """(state, raw message, extra facts) of one message, wherever it is in the queue."""
    raw = await redis.hget(k.dead_msgs, redis_id)
    if raw is not None:
        score = await redis.zscore(k.dead, redis_id)
        return "dead", raw, {"dead_at": score / 1000 if score is not None else None}
    raw = await redis.hget(k.delayed_msgs, redis_id)
    if raw is not None:
        held = await redis.lpos(k.delayed, redis_id) is None
        return "delayed", raw, {"held": held}
    raw = await redis.hget(k.msgs, redis_id)
    if raw is not None:
        position = await redis.lpos(k.ready, redis_id)
        if position is not None:
            return "ready", raw, {"position": int(position) + 1}
        for key, worker, q in await _acks_keys(redis, k.namespace):
            if q == k.queue and await redis.sismember(key, redis_id):
                beats = await _heartbeats(redis, k)
                return "in_progress", raw, {"worker": worker, "heartbeat_at": beats.get(worker)}
        return "in_progress", raw, {"worker": None, "heartbeat_at": None}
    return None


async def get_message(redis: Any, namespace: str, queue: str, redis_id: str) -> dict[str, Any]:
    """One message with its body: actor, args, kwargs, options (retries, traceback apart), times, ids, state.
    Personal data and secrets in strings (the traceback too) are masked as in the logs."""
    k = QueueKeys(namespace, check_queue(queue))
    found = await _locate(redis, k, redis_id[:100])
    if found is None:
        raise NotFound("Сообщение не найдено: его уже обработали или удалили")
    state, raw, extra = found
    data = _decode(raw) or {}
    options = dict(data.get("options") or {})
    traceback = options.pop("traceback", None)
    summary = _summary(redis_id, data, state, **extra)
    held = bool(extra.get("held"))
    return {**summary, "options": _masked(options), "traceback": mask(str(traceback)) if traceback else None,
            # the stored text only when it is not a Dramatiq message (then there is nothing else to show)
            "raw": None if "actor_name" in data else mask(raw.decode(errors="replace")),
            "can_requeue": state == "dead" or (state == "delayed" and not held),
            "can_delete": state in ("dead", "ready") or (state == "delayed" and not held)}


def _for_ready_queue(raw: bytes, queue: str) -> bytes:
    """The message as a worker takes it off ``<queue>``: canonical queue name, no eta, fresh retries budget."""
    message = Message.decode(raw)
    options = dict(message.options)
    options.pop("eta", None)
    options["retries"] = 0
    options["requeued_at"] = int(time.time() * 1000)
    options["requeues"] = int(options.get("requeues", 0) or 0) + 1
    return dataclasses.replace(message, queue_name=queue, options=options).encode()


HELD = "Сообщение уже у воркера: он поставит его в очередь сам, когда наступит срок"
GONE = "Сообщение не найдено: его уже обработали, переставили или удалили"


async def requeue(redis: Any, namespace: str, queue: str, redis_id: str) -> dict[str, Any]:
    """Put a dead-lettered or a delayed message back on its queue, to be fetched by the next free worker."""
    k = QueueKeys(namespace, check_queue(queue))
    found = await _locate(redis, k, redis_id)
    if found is None:
        raise NotFound(GONE)
    state, raw, _ = found
    if state not in ("dead", "delayed"):
        raise Conflict("Переставить можно только мёртвое или отложенное сообщение")
    data = _for_ready_queue(raw, queue)
    if state == "dead":
        result = await redis.eval(_MOVE_FROM_DEAD, 4, k.dead, k.dead_msgs, k.ready, k.msgs, redis_id, data)
    else:
        result = await redis.eval(_MOVE_FROM_DELAYED, 4, k.delayed, k.delayed_msgs, k.ready, k.msgs, redis_id, data)
    if int(result) == -1:
        raise Conflict(HELD)
    if int(result) == 0:
        raise NotFound(GONE)
    return {"id": redis_id, "from": state, "queue": queue}


async def delete(redis: Any, namespace: str, queue: str, redis_id: str) -> dict[str, Any]:
    """Remove a ready, delayed (not yet held by a worker) or dead-lettered message for good."""
    k = QueueKeys(namespace, check_queue(queue))
    found = await _locate(redis, k, redis_id)
    if found is None:
        raise NotFound(GONE)
    state = found[0]
    if state == "dead":
        result = await redis.eval(_DELETE_DEAD, 2, k.dead, k.dead_msgs, redis_id)
    elif state == "ready":
        result = await redis.eval(_DELETE_LISTED, 2, k.ready, k.msgs, redis_id)
    elif state == "delayed":
        result = await redis.eval(_DELETE_LISTED, 2, k.delayed, k.delayed_msgs, redis_id)
    else:
        raise Conflict("Задачу уже выполняет воркер: удалить её нельзя")
    if int(result) == -1:
        raise Conflict(HELD if state == "delayed" else "Задачу уже взял воркер: удалить её нельзя")
    if int(result) == 0:
        raise NotFound(GONE)
    return {"id": redis_id, "from": state, "queue": queue}
