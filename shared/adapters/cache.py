"""The cache port (frame results, same-frame tracking, claims, tracks, cached forecasts) and its
adapter: Redis.

The adapter is told its keys (every format lives in ``shared.service_layer.idempotency``); it
stores :class:`CachedResult` records as JSON, and read-modify-writes one string (a camera's
tracks) as an optimistic transaction (``WATCH``/``MULTI``).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from shared.adapters.cache_scripts import CLAIM, CLAIMED, SAME_FRAME_SINCE, TAKE
from shared.domain.observations import CachedResult
from shared.errors import ConfigError, DependencyUnavailableError

T = TypeVar("T")
UPDATE_ATTEMPTS = 5  # optimistic tries of one update before giving up (another writer won each)


class Cache(Protocol):
    """The cache port: frame results, same-frame tracking and claims."""

    def lookup(
        self, result_key: str, last_frame_key: str, digest: str, now_ms: int, history_ttl_s: int
    ) -> tuple[CachedResult | None, int]:
        """The cached result (or None) and since when (ms) the camera has served ``digest``."""
        ...

    def get(self, key: str) -> str | None:
        """A plain string value (the bytes -> frame hash alias), if present."""
        ...

    def store(
        self, result_key: str, result: CachedResult, ttl_s: int, aliases: Mapping[str, str]
    ) -> None:
        """Cache a result for ``ttl_s``, and each alias key -> value for as long."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """Plain string values of ``keys``, in order (None where absent), in one round trip."""
        ...

    def put_many(self, values: Mapping[str, str], ttl_s: int) -> None:
        """Set each key to its value for ``ttl_s``, in one round trip."""
        ...

    def claim(self, key: str, ttl_s: int, owner: str = "") -> str:
        """Take ``key`` if nobody holds it: ``taken``; ``retaken`` when ``owner`` (non-empty)
        holds it already, pending; else ``""`` (held by another, or done)."""
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

    def count(self, key: str, ttl_s: int) -> int:
        """Add one to the counter ``key`` (kept ``ttl_s`` from its first count); the new value."""
        ...

    def update(self, key: str, change: Callable[[str | None], tuple[str, T]], ttl_s: int) -> T:
        """Replace a string by ``change(current)[0]`` atomically, for ``ttl_s``; return ``[1]``.

        ``change`` may run more than once (it is retried when another writer got in between), so
        it must be pure.
        """
        ...

    def take(self, key: str, per_minute: int, burst: int, now: float) -> float:
        """Take a token of ``key``'s bucket (``per_minute`` refill, ``burst`` capacity) at
        ``now`` (epoch s), atomically: 0.0 when allowed, else the seconds until a token is there."""
        ...

    def ping(self) -> None:
        """Raise DependencyUnavailableError if the cache is down."""
        ...


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.AuthenticationError as exc:
        # Redis's own words (WRONGPASS, NOAUTH) never echo the password.
        raise DependencyUnavailableError(
            "redis", f"AUTH refused (check CAMWATCH_REDIS_PASSWORD): {exc}"
        ) from exc
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        detail = str(exc)
        if "SSL" in detail or "TLS" in detail or isinstance(exc.__cause__, ssl.SSLError):
            detail = f"TLS failed (check CAMWATCH_REDIS_TLS, CAMWATCH_REDIS_CA_FILE): {detail}"
        raise DependencyUnavailableError("redis", detail) from exc


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCache:
    """Thread-safe (one connection pool per instance)."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._same_since = client.register_script(SAME_FRAME_SINCE)
        self._take = client.register_script(TAKE)
        self._claim = client.register_script(CLAIM)

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        timeout_s: float,
        password: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
    ) -> RedisCache:
        """A client with short timeouts, so a dead Redis fails fast (503), never hangs.

        Args:
            host: Redis host (Memorystore: an IP address).
            port: Redis port (Memorystore with in-transit encryption: 6378).
            timeout_s: connect and socket timeout.
            password: the AUTH string, or None for no AUTH.
            tls: connect over TLS and verify the server's certificate.
            ca_file: PEM of the CA to trust (Memorystore's per-instance server CA); None with
                ``tls``: the system CAs, and the host name is checked too.

        Raises:
            ConfigError: ``ca_file`` is given but cannot be read.
        """
        if tls and ca_file is not None and not Path(ca_file).is_file():
            raise ConfigError(f"CAMWATCH_REDIS_CA_FILE: no such file: {ca_file}")
        client = redis.Redis(
            host=host,
            port=port,
            password=password,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            health_check_interval=30,
            # One quick retry, then DependencyUnavailableError (redis-py's default backs off for s).
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
            # Without ``tls`` redis-py ignores the ssl_* arguments.
            ssl=tls,
            ssl_cert_reqs="required",
            ssl_ca_certs=ca_file,
            # Memorystore's certificate names no IP address, and clients reach it by IP: with
            # its own per-instance CA (ca_file) the chain check alone pins the server. With the
            # system CAs any public name would pass the chain check, so the name must match.
            ssl_check_hostname=ca_file is None,
        )
        return cls(client)

    def lookup(
        self, result_key: str, last_frame_key: str, digest: str, now_ms: int, history_ttl_s: int
    ) -> tuple[CachedResult | None, int]:
        """One round trip: the cached result (or None) and since when this frame is served."""
        with _redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.get(result_key)
            self._same_since(
                keys=[last_frame_key], args=[digest, now_ms, history_ttl_s], client=pipe
            )
            cached, since = pipe.execute()
        return (CachedResult.from_dict(json.loads(cached)) if cached else None), int(since)

    def get(self, key: str) -> str | None:
        """A plain string value, if present."""
        with _redis_errors():
            return _text(self._r.get(key))

    def store(
        self, result_key: str, result: CachedResult, ttl_s: int, aliases: Mapping[str, str]
    ) -> None:
        """Cache a result (and its aliases) for ``ttl_s`` in one round trip."""
        with _redis_errors():
            pipe = self._r.pipeline(transaction=False)
            pipe.set(result_key, json.dumps(result.as_dict()), ex=ttl_s)
            for key, value in aliases.items():
                pipe.set(key, value, ex=ttl_s)
            pipe.execute()

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """``MGET``: plain string values in order, None where absent."""
        if not keys:
            return []
        with _redis_errors():
            return [_text(v) for v in self._r.mget(list(keys))]

    def put_many(self, values: Mapping[str, str], ttl_s: int) -> None:
        """``SET ... EX`` for each key, pipelined."""
        if not values:
            return
        with _redis_errors():
            pipe = self._r.pipeline(transaction=False)
            for key, value in values.items():
                pipe.set(key, value, ex=ttl_s)
            pipe.execute()

    def claim(self, key: str, ttl_s: int, owner: str = "") -> str:
        """Take ``key`` if nobody holds it, or its ``owner`` again (a Lua script: atomic)."""
        value = f"pending:{owner}" if owner else "pending"
        with _redis_errors():
            return CLAIMED[int(self._claim(keys=[key], args=[value, ttl_s, int(bool(owner))]))]

    def confirm(self, key: str, ttl_s: int) -> None:
        """Mark a claimed key done for ``ttl_s``."""
        with _redis_errors():
            self._r.set(key, "done", ex=ttl_s)

    def release(self, key: str) -> None:
        """Give a claim back (best effort: the claim's TTL frees it anyway)."""
        with suppress(redis.ConnectionError, redis.TimeoutError):
            self._r.delete(key)

    def state(self, key: str) -> str | None:
        """A claim's state: ``pending``, ``done`` or None (free)."""
        with _redis_errors():
            value = _text(self._r.get(key))
        return "pending" if value and value.startswith("pending") else value

    def count(self, key: str, ttl_s: int) -> int:
        """``INCR``, and ``EXPIRE`` on the first count (one round trip)."""
        with _redis_errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, ttl_s, nx=True)
            value, _ = pipe.execute()
        return int(value)

    def update(self, key: str, change: Callable[[str | None], tuple[str, T]], ttl_s: int) -> T:
        """Optimistic read-modify-write: ``WATCH`` the key, compute, ``MULTI``/``SET``/``EXEC``.

        A concurrent write to the key aborts the ``EXEC`` and ``change`` runs again on the new
        value, up to :data:`UPDATE_ATTEMPTS` times; then DependencyUnavailableError (retry).
        """
        with _redis_errors(), self._r.pipeline() as pipe:
            for _ in range(UPDATE_ATTEMPTS):
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    value, result = change(_text(pipe.get(key)))
                    pipe.multi()
                    pipe.set(key, value, ex=ttl_s)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
        raise DependencyUnavailableError("redis", f"{key}: {UPDATE_ATTEMPTS} conflicting writes")

    def take(self, key: str, per_minute: int, burst: int, now: float) -> float:
        """One token of a bucket, by a Lua script (atomic across instances)."""
        with _redis_errors():
            wait = self._take(keys=[key], args=[per_minute, burst, repr(float(now))])
        return float(_text(wait) or 0.0)

    def ping(self) -> None:
        """Round trip to the server."""
        with _redis_errors():
            self._r.ping()
