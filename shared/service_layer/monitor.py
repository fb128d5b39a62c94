"""The monitor: each minute (a ``monitor-ticks`` message), evaluate the system alert conditions
from what the workers recorded in Redis, and route each raise or resolve that is due
(:mod:`shared.domain.system_alerts`: once per change, at most once per cooldown).

The conditions' states live in Redis (``system:{condition key}``). With Redis down, the states
live in this process (a module-level dict) and ``dependency.unavailable:redis`` is routed
unclaimed (its delivery cannot take a Redis claim); when Redis is back, a state this process
told more recently than Redis remembers wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.adapters.bus import DeadLetters
from shared.adapters.cache import Cache
from shared.domain.system_alerts import (
    Condition,
    ConditionState,
    SystemAlert,
    held,
    schema_of,
    step,
)
from shared.domain.timestamps import iso_utc
from shared.errors import DependencyUnavailableError
from shared.messages.schemas import validate
from shared.service_layer.deliveries import Router
from shared.service_layer.health import camera_health, inference_stats
from shared.service_layer.idempotency import system_alert_key

log = logging.getLogger(__name__)

STATE_S = 7 * 24 * 3600  # a condition not evaluated for a week is forgotten
DEPENDENCIES = ("redis", "bigquery", "storage")  # dependency.unavailable:{name}
_local: dict[str, ConditionState] = {}  # the states as this process last saw them


@dataclass(frozen=True)
class Thresholds:
    """When conditions hold (``CAMWATCH_MONITOR_*``) and the cooldown (``ALERT_COOLDOWN_S``)."""

    cooldown_s: int = 900
    offline_sweeps: int = 3
    window_s: int = 300
    min_calls: int = 10
    max_error_rate: float = 0.2
    max_p95_ms: float = 2000.0


@dataclass(frozen=True)
class Routed:
    """A system alert this tick raised or resolved, and the subscribers it went to."""

    event_type: str
    key: str
    camera_id: str | None
    alert_id: str
    subscribers: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """For the tick's report in Redis."""
        return {
            "event_type": self.event_type,
            "key": self.key,
            "camera_id": self.camera_id,
            "alert_id": self.alert_id,
            "subscribers": list(self.subscribers),
        }


@dataclass(frozen=True)
class MonitorReport:
    """One tick: alerts raised and resolved now, changes held by the cooldown, conditions
    active, and each alert routed."""

    raised: int = 0
    resolved: int = 0
    held: int = 0
    active: int = 0
    routed: tuple[Routed, ...] = ()

    def as_dict(self) -> dict[str, int]:
        """For the function's answer and the logs."""
        return {
            "raised": self.raised,
            "resolved": self.resolved,
            "held": self.held,
            "active": self.active,
        }

    def as_report(self) -> dict[str, Any]:
        """The counts and every routed alert (``monitor:report:{message_id}`` in Redis)."""
        return {**self.as_dict(), "transitions": [r.as_dict() for r in self.routed]}


@dataclass
class Monitor:
    """Evaluates the conditions and routes the due alerts."""

    cache: Cache
    router: Router
    cameras: Callable[[], Sequence[str]]  # the registry's camera ids
    checks: Mapping[str, Callable[[], None]]  # each dependency's ping (raises when down)
    dead_letters: DeadLetters
    subscriptions: Sequence[str]  # the dead-letter pull subscriptions
    thresholds: Thresholds

    def tick(self, now: datetime) -> MonitorReport:
        """Evaluate, route what is due, remember the states; return the counts.

        Raises:
            DependencyUnavailableError: the bus is down (the tick is retried: same alert ids).
        """
        at = now.timestamp()
        down = self._down()
        conditions: list[Condition] = []
        if "redis" not in down:
            try:
                conditions += self._recorded(at)
            except DependencyUnavailableError as exc:
                down["redis"] = exc.message
                conditions = []
        conditions += [
            Condition(
                "dependency.unavailable",
                name,
                name in down,
                {"dependency": name, **({"error": down[name][:500]} if name in down else {})},
            )
            for name in DEPENDENCIES
            if name in self.checks
        ]
        conditions += self._dead_letters()
        redis_up = "redis" not in down
        states = self._load([c.key for c in conditions], redis_up)
        report, changed, cooldown_s = MonitorReport(), {}, self.thresholds.cooldown_s
        for condition in conditions:
            state, alert = step(states.get(condition.key), condition, at, cooldown_s)
            changed[condition.key] = state
            routed = (self._route(alert),) if alert is not None else ()
            report = MonitorReport(
                report.raised + int(alert is not None and not alert.resolved),
                report.resolved + int(alert is not None and alert.resolved),
                report.held + int(held(state)),
                report.active + int(state.active),
                report.routed + routed,
            )
        self._save(changed, redis_up)
        log.info("monitor tick", extra={**report.as_dict(), "down": sorted(down)})
        return report

    def _down(self) -> dict[str, str]:
        down: dict[str, str] = {}
        for name, check in self.checks.items():
            if name not in DEPENDENCIES:
                continue
            try:
                check()
            except Exception as exc:  # any failure of a ping is the dependency down
                down[name] = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return down

    def _recorded(self, at: float) -> list[Condition]:
        """The cameras' and the detector's conditions, from Redis (raises if Redis is down)."""
        t = self.thresholds
        conditions: list[Condition] = []
        for cam, health in camera_health(self.cache, list(self.cameras())).items():
            offline = health.failures >= t.offline_sweeps
            details: dict[str, Any] = {
                "failures": health.failures,
                "last_error_kind": health.last_error_kind,
                "last_error": health.last_error,
                "last_frame_at": _iso(health.last_frame_at),
            }
            since = health.failing_since if offline else health.updated_at
            conditions.append(Condition("camera.offline", cam, offline, details, cam, since))
            stale = {"last_frame_at": _iso(health.last_frame_at)}
            conditions.append(Condition("camera.stale", cam, health.stale, stale, cam))
        stats = inference_stats(self.cache, at, t.window_s)
        degraded = stats.calls >= t.min_calls and (
            stats.error_rate > t.max_error_rate or stats.p95_ms > t.max_p95_ms
        )
        details = {
            "calls": stats.calls,
            "errors": stats.errors,
            "error_rate": round(stats.error_rate, 4),
            "p95_ms": stats.p95_ms,
            "window_s": t.window_s,
        }
        conditions.append(Condition("inference.degraded", "", degraded, details))
        return conditions

    def _dead_letters(self) -> list[Condition]:
        try:
            counts = self.dead_letters.pending(self.subscriptions)
        except Exception as exc:  # the peek is best effort: no condition this tick
            log.warning("dead letters not peeked", extra={"error": str(exc)[:500]})
            return []
        return [
            Condition("dead_letters.pending", sub, n > 0, {"subscription": sub, "pending": n})
            for sub, n in counts.items()
        ]

    def _load(self, keys: list[str], redis_up: bool) -> dict[str, ConditionState]:
        states = {k: _local[k] for k in keys if k in _local}
        if not redis_up:
            return states
        try:
            stored = self.cache.get_many([system_alert_key(k) for k in keys])
        except DependencyUnavailableError:
            return states
        for key, text in zip(keys, stored, strict=True):
            if text is None:
                continue
            remote, mine = ConditionState.from_json(text), states.get(key)
            if mine is None or (remote.notified_at or 0) >= (mine.notified_at or 0):
                states[key] = remote
        return states

    def _save(self, states: dict[str, ConditionState], redis_up: bool) -> None:
        _local.update(states)
        if not redis_up:
            return
        values = {system_alert_key(k): s.to_json() for k, s in states.items()}
        try:
            self.cache.put_many(values, STATE_S)
        except DependencyUnavailableError as exc:
            log.warning("system alert states kept in process", extra={"error": exc.message})

    def _route(self, alert: SystemAlert) -> Routed:
        validate(schema_of(alert.event_type), alert.body())
        unclaimed = alert.key == "dependency.unavailable:redis"
        names = self.router.route(alert, unclaimed=unclaimed)
        log.warning(
            "system alert " + ("resolved" if alert.resolved else "raised"),
            extra={"alert_id": alert.id, "condition": alert.key, "subscribers": list(names)},
        )
        return Routed(alert.event_type, alert.key, alert.camera_id, alert.id, names)


def _iso(at: float | None) -> str | None:
    return None if at is None else iso_utc(at)


def forget_local_states() -> None:
    """Clear the in-process states (tests)."""
    _local.clear()
