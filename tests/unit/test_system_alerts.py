"""System alerts: raised once, cooled down, resolved; the monitor over fakes; the schemas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.health import InferenceStats
from shared.domain.subscribers import Subscriber
from shared.domain.system_alerts import Condition, ConditionState, SystemAlert, schema_of, step
from shared.errors import DependencyUnavailableError, MessageRejectedError
from shared.messages.schemas import validate
from shared.service_layer import monitor as monitoring
from shared.service_layer.deliveries import Router
from shared.service_layer.health import MeteredDetector, record_sweep
from shared.service_layer.idempotency import inference_health_key, system_alert_key
from shared.service_layer.monitor import Monitor, Thresholds
from tests.unit.fakes import FakeBus, FakeCache, FakeDeadLetters, FakeDetector

COOLDOWN = 900.0
T0 = 1_800_000_000.0  # epoch s


def offline(active: bool) -> Condition:
    return Condition("camera.offline", "cam-1", active, {"failures": 3 if active else 0}, "cam-1")


def run(ticks: list[tuple[float, bool]]) -> list[str | None]:
    """The alert sent (its type) at each tick of (seconds after T0, active)."""
    state: ConditionState | None = None
    sent: list[str | None] = []
    for at, active in ticks:
        state, alert = step(state, offline(active), T0 + at, COOLDOWN)
        sent.append(alert.event_type if alert else None)
    return sent


R, OK = "camera.offline", "camera.offline.resolved"


@pytest.mark.parametrize(
    ("ticks", "expected"),
    [
        # raised once: the second tick sends nothing
        ([(0, True), (60, True)], [R, None]),
        # flapping within the cooldown sends nothing more
        ([(0, True), (60, False), (120, True), (180, False)], [R, None, None, None]),
        # after the cooldown the held state is sent (here: it ended)
        ([(0, True), (60, False), (960, False)], [R, None, OK]),
        # resolved once
        ([(0, True), (900, False), (960, False), (3000, False)], [R, OK, None, None]),
        # never raised never resolves
        ([(0, False), (60, False), (2000, False)], [None, None, None]),
        # a flap that ends as it began is not told at all
        ([(0, True), (1000, False), (1060, True), (2000, True)], [R, OK, None, R]),
    ],
)
def test_the_state_machine(ticks: list[tuple[float, bool]], expected: list[str | None]) -> None:
    assert run(ticks) == expected


def test_a_retried_tick_sends_the_same_id_and_resolve_says_how_long() -> None:
    first, raised = step(None, offline(True), T0, COOLDOWN)
    _again, raised_again = step(None, offline(True), T0, COOLDOWN)
    assert raised
    assert raised_again
    assert raised.id == raised_again.id
    _, resolved = step(first, offline(False), T0 + 1000, COOLDOWN)
    assert resolved
    assert resolved.id != raised.id
    data = resolved.body()["data"]
    assert (data["duration_s"], data["raised_at"]) == (1000.0, "2027-01-15T08:00:00Z")
    assert resolved.severity == raised.severity


def alerts() -> list[SystemAlert]:
    """One raise and one resolve of each type, as the monitor builds them."""
    samples = [
        Condition("camera.offline", "c", True, {"failures": 3, "last_error_kind": "timeout",
                                               "last_error": "slow", "last_frame_at": None}, "c"),
        Condition("camera.stale", "c", True, {"last_frame_at": "2027-01-15T08:00:00Z"}, "c"),
        Condition("inference.degraded", "", True, {"calls": 10, "errors": 5, "error_rate": 0.5,
                                                   "p95_ms": 2000.0, "window_s": 300}),
        Condition("dependency.unavailable", "redis", True, {"dependency": "redis", "error": "x"}),
        Condition("dead_letters.pending", "a-dead-letter-pull", True,
                  {"subscription": "a-dead-letter-pull", "pending": 2}),
    ]  # fmt: skip
    found = []
    for c in samples:
        state, raised = step(None, c, T0, 0)
        _, resolved = step(state, Condition(c.event_type, c.subject, False, c.details,
                                            c.camera_id), T0 + 60, 0)  # fmt: skip
        found += [raised, resolved]
    return [a for a in found if a is not None]


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a.event_type)
def test_each_body_validates_against_its_schema(alert: SystemAlert) -> None:
    validate(schema_of(alert.event_type), alert.body())
    assert alert.email_subject().startswith(f"[camwatch {alert.severity}]")
    broken: dict[str, Any] = alert.body()
    del broken["data"]["details"]
    with pytest.raises(MessageRejectedError, match="details"):
        validate(schema_of(alert.event_type), broken)


def test_a_resolved_body_without_its_duration_is_refused() -> None:
    body = next(a for a in alerts() if a.resolved).body()
    del body["data"]["duration_s"]
    with pytest.raises(MessageRejectedError):
        validate(schema_of(body["type"]), body)


# The monitor over fakes


class Checks:
    def __init__(self) -> None:
        self.down: set[str] = set()

    def check(self, name: str) -> Any:
        def ping() -> None:
            if name in self.down:
                raise DependencyUnavailableError(name, "connection refused")

        return ping


class World:
    def __init__(self) -> None:
        self.cache, self.bus, self.checks = FakeCache(), FakeBus(), Checks()
        self.dead = FakeDeadLetters()
        subscribers = [Subscriber("ops", url="https://ops.example/hook")]
        self.monitor = Monitor(
            self.cache,
            Router(subscribers, self.bus),
            lambda: ["cam-1"],
            {n: self.checks.check(n) for n in ("redis", "bigquery", "storage")},
            self.dead,
            ["violations-dead-letter-pull"],
            Thresholds(cooldown_s=900, offline_sweeps=3, min_calls=10),
        )

    def tick(self, at: float) -> monitoring.MonitorReport:
        return self.monitor.tick(datetime.fromtimestamp(T0 + at, UTC))

    def routed(self) -> list[tuple[str, bool]]:
        return [(m["alert"]["event_type"], m["alert"]["unclaimed"]) for _, m, _ in self.bus.sent]


@pytest.fixture
def world() -> Iterator[World]:
    monitoring.forget_local_states()
    yield World()
    monitoring.forget_local_states()


def test_a_camera_offline_after_n_failing_sweeps_then_resolved(world: World) -> None:
    for i in range(2):
        record_sweep(world.cache, "cam-1", T0 + i * 60, error=("timeout", "slow"))
        assert world.tick(i * 60).raised == 0
    record_sweep(world.cache, "cam-1", T0 + 120, error=("unreachable", "refused"))
    report = world.tick(120)
    assert (report.raised, report.active) == (1, 1)
    assert world.tick(180).raised == 0  # once
    assert world.routed() == [("camera.offline", False)]
    body = world.bus.sent[0][1]["alert"]["body"]
    assert body["data"]["details"]["last_error_kind"] == "unreachable"
    assert body["data"]["since"] == body["timestamp"]  # the first failed sweep

    record_sweep(world.cache, "cam-1", T0 + 1200, observation=_frame("ok"))
    assert world.tick(1200).resolved == 1
    assert world.routed()[-1] == ("camera.offline.resolved", False)
    assert world.cache.get(system_alert_key("camera.offline:cam-1")) is not None


def test_inference_degraded_from_the_recorded_calls(world: World) -> None:
    clock = iter([T0 + 30] * 100)
    times = iter([0.0, 0.1] * 50)  # 100 ms each
    meter = MeteredDetector(
        FakeDetector(), world.cache, 300, lambda: next(clock), lambda: next(times)
    )
    for _ in range(9):
        meter.record(100.0, failed=True)
    assert world.tick(40).raised == 0  # 9 calls: too few to judge
    meter.detect(None)  # type: ignore[arg-type]
    assert world.tick(50).raised == 1
    [(_topic, delivery, _)] = world.bus.sent
    details = delivery["alert"]["body"]["data"]["details"]
    assert (details["calls"], details["errors"], details["error_rate"]) == (10, 9, 0.9)
    assert delivery["alert"]["severity"] == "HIGH"


def test_inference_degraded_by_p95_alone(world: World) -> None:
    stats = InferenceStats()
    for ms in [100.0] * 18 + [4000.0] * 2:  # 10 % slow: p95 is in the 5 s bucket
        stats = stats.record(ms, failed=False)
    world.cache.put_many({inference_health_key(int(T0) // 60): stats.to_json()}, 600)
    assert world.tick(0).raised == 1
    assert world.routed() == [("inference.degraded", False)]


def test_a_dependency_down_is_raised_and_redis_down_goes_unclaimed(world: World) -> None:
    world.checks.down.add("bigquery")
    world.tick(0)
    assert world.routed() == [("dependency.unavailable", False)]
    world.checks.down.add("redis")
    world.cache.down = True
    report = world.tick(60)
    assert world.routed()[-1] == ("dependency.unavailable", True)
    assert report.active == 2
    assert world.tick(120).raised == 0  # the state stays in the process while Redis is down
    world.checks.down.clear()
    world.cache.down = False
    assert world.tick(1000).resolved == 2  # bigquery's from Redis, redis's from the process
    assert sorted(world.routed()[-2:]) == [
        ("dependency.unavailable.resolved", False),
        ("dependency.unavailable.resolved", True),
    ]


def test_dead_letters_pending_and_a_failed_peek(world: World) -> None:
    world.dead.waiting["violations-dead-letter-pull"] = 3
    assert world.tick(0).raised == 1
    body = world.bus.sent[0][1]["alert"]["body"]
    assert body["data"]["details"] == {"subscription": "violations-dead-letter-pull", "pending": 3}
    world.dead.down = True
    assert world.tick(1000).resolved == 0  # unknown: nothing told
    world.dead.down, world.dead.waiting = False, {}
    assert world.tick(1060).resolved == 1


def test_a_failure_to_record_health_never_fails_the_sweep() -> None:
    cache = FakeCache()
    cache.down = True
    assert record_sweep(cache, "cam-1", T0, error=("timeout", "slow")) is None
    meter = MeteredDetector(FakeDetector(), cache, 300)
    assert len(meter.detect(None)) == 3  # type: ignore[arg-type]


def _frame(status: str) -> Any:
    class Frame:
        pass

    class Seen:
        frame = Frame()

    Seen.frame.status = status  # type: ignore[attr-defined]
    return Seen()
