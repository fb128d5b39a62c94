"""Cache adapter: Memorystore Redis. Frame results, stale tracking and write claims.

Keys:
  ``vision:camera:{camera_id}:frame:{hash}``  cached result of a frame (TTL ``cache_ttl_s``)
  ``vision:camera:{camera_id}:bytes:{digest}`` frame hash of these encoded bytes (same TTL)
  ``vision:camera:{camera_id}:last_frame``     hash of the last frame and since when (ms)
  ``vision:write:{table}:{row_id}``            idempotent-write claim (see ``shared.service_layer.idempotency``)
  ``vision:job:{sweep_id}:{camera_id}``        camera job claim (see ``shared.service_layer.camera_job``)
  ``violation:camera:{camera_id}:type:{type}`` one alert per ongoing violation (24 h)
  ``alert:{violation_id}:{channel}``           alert delivery claim (see ``shared.service_layer.alerts``)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from shared.errors import DependencyUnavailable

# Returns the time (ms) since which the camera has served this same frame.
_SAME_FRAME_SINCE = """
local cur = redis.call('HGET', KEYS[1], 'hash')
if cur == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return redis.call('HGET', KEYS[1], 'since')
end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'since', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return ARGV[2]
"""


class Cache(Protocol):
    """The cache port: frame results, same-frame tracking and write claims."""

    def lookup(
        self, camera_id: str, digest: str, now_ms: int, history_ttl_s: int
    ) -> tuple[dict[str, Any] | None, int]:
        """The cached result (or None) and since when (ms) this frame has been served."""
        ...

    def resolve(self, camera_id: str, bytes_digest: str) -> str | None:
        """The frame hash last decoded from these exact bytes, if still cached."""
        ...

    def store(
        self,
        camera_id: str,
        digest: str,
        result: dict[str, Any],
        ttl_s: int,
        bytes_digest: str | None = None,
    ) -> None:
        """Cache a frame result for ``ttl_s`` (and the bytes -> frame hash alias)."""
        ...

    def claim(self, key: str, ttl_s: int) -> bool:
        """Take ``key`` if nobody holds it."""
        ...

    def confirm(self, key: str, ttl_s: int) -> None:
        """Mark a claimed key done."""
        ...

    def release(self, key: str) -> None:
        """Give a claim back."""
        ...

    def state(self, key: str) -> str | None:
        """A claim's state: ``pending``, ``done`` or None (free)."""
        ...

    def ping(self) -> None:
        """Raise DependencyUnavailable if the cache is down."""
        ...


def frame_key(camera_id: str, digest: str) -> str:
    """Key of a cached frame result."""
    return f"vision:camera:{camera_id}:frame:{digest}"


def bytes_key(camera_id: str, bytes_digest: str) -> str:
    """Key of the alias from encoded bytes to their frame hash."""
    return f"vision:camera:{camera_id}:bytes:{bytes_digest}"


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise DependencyUnavailable("redis", str(exc)) from exc


class RedisCache:
    """Thread-safe (one connection pool per instance)."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._same_since = client.register_script(_SAME_FRAME_SINCE)

    @classmethod
    def connect(cls, host: str, port: int, timeout_s: float) -> RedisCache:
        """A client with short timeouts, so a dead Redis fails fast (503), never hangs."""
        client = redis.Redis(
            host=host,
            port=port,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            health_check_interval=30,
            # One quick retry, then DependencyUnavailable (redis-py's default backs off for s).
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        )
        return cls(client)

    def lookup(
        self, camera_id: str, digest: str, now_ms: int, history_ttl_s: int
    ) -> tuple[dict[str, Any] | None, int]:
        """One round trip: the cached result (or None) and since when this frame is served."""
        with _redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.get(frame_key(camera_id, digest))
            self._same_since(
                keys=[f"vision:camera:{camera_id}:last_frame"],
                args=[digest, now_ms, history_ttl_s],
                client=pipe,
            )
            cached, since = pipe.execute()
        return (json.loads(cached) if cached else None), int(since)

    def resolve(self, camera_id: str, bytes_digest: str) -> str | None:
        """The frame hash last decoded from these exact bytes, if still cached."""
        with _redis_errors():
            found = self._r.get(bytes_key(camera_id, bytes_digest))
        if found is None:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)

    def store(
        self,
        camera_id: str,
        digest: str,
        result: dict[str, Any],
        ttl_s: int,
        bytes_digest: str | None = None,
    ) -> None:
        """Cache a frame result (and the bytes -> frame hash alias) for ``ttl_s``."""
        with _redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.set(frame_key(camera_id, digest), json.dumps(result), ex=ttl_s)
            if bytes_digest:
                pipe.set(bytes_key(camera_id, bytes_digest), digest, ex=ttl_s)
            pipe.execute()

    def claim(self, key: str, ttl_s: int) -> bool:
        """Take ``key`` if nobody holds it (SET NX EX)."""
        with _redis_errors():
            return bool(self._r.set(key, "pending", nx=True, ex=ttl_s))

    def confirm(self, key: str, ttl_s: int) -> None:
        """Mark a claimed key done for ``ttl_s``."""
        with _redis_errors():
            self._r.set(key, "done", ex=ttl_s)

    def release(self, key: str) -> None:
        """Give a claim back (best effort: the claim's TTL frees it anyway)."""
        try:
            self._r.delete(key)
        except (redis.ConnectionError, redis.TimeoutError):
            pass

    def state(self, key: str) -> str | None:
        """A claim's state: ``pending``, ``done`` or None (free)."""
        with _redis_errors():
            value = self._r.get(key)
        return value.decode() if isinstance(value, bytes) else value

    def ping(self) -> None:
        """Round trip to the server."""
        with _redis_errors():
            self._r.ping()
