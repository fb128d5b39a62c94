"""Small hand-written fakes of the ports, asserting on state (not on call chains)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import yaml
from flask.testing import FlaskClient

from shared.adapters.bursts import BurstFrame, poll
from shared.domain.alerts import Severity
from shared.domain.callers import key_entry
from shared.domain.detections import Detections, ModelInfo
from shared.domain.frames import RawFrame
from shared.domain.observations import CachedResult
from shared.domain.records import Message, Row
from shared.domain.registry import Registry, parse_registry
from shared.domain.subscribers import Subscriber
from shared.domain.tracks import counter_ids
from shared.errors import DeliveryFailedError, DependencyUnavailableError, FrameError
from shared.messages.envelope import PubsubMessage
from shared.messages.schemas import validate
from shared.service_layer.evidence import EvidenceStore
from shared.service_layer.processor import CameraProcessor
from shared.service_layer.tracking import CameraTracker, track_config
from shared.service_layer.violations import ViolationRecorder
from shared.settings import Settings


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class FakeFrames:
    """Serves what ``frames[source]`` holds: bytes, a decoded image (video), or an error; a
    list is a burst, served in order (``fetch`` gives its last item)."""

    def __init__(self, frames: dict[str, Any]) -> None:
        self.frames = frames
        self.bursts: list[tuple[str, int, float]] = []

    def fetch(self, source: str) -> RawFrame:
        value = self.frames[source]
        return self._raw(value[-1] if isinstance(value, list) else value)

    def fetch_burst(self, source: str, frames: int, spacing_s: float) -> list[BurstFrame]:
        self.bursts.append((source, frames, spacing_s))
        value = self.frames[source]
        items = iter(value if isinstance(value, list) else [value] * frames)
        clock = FakeClock()
        return poll(
            lambda: self._raw(next(items)), frames, spacing_s, 1.0, 60.0, clock.now, clock.sleep
        )

    @staticmethod
    def _raw(value: Any) -> RawFrame:
        if isinstance(value, FrameError):
            raise value
        if isinstance(value, np.ndarray):
            return RawFrame("video", image=value)
        return RawFrame("http", data=value, content_type="image/jpeg")


class FakeDetector:
    """Finds one car, one bus and one dog per frame; counts its calls."""

    model = ModelInfo("fake", "1", "0" * 64)

    def __init__(self) -> None:
        self.calls = 0
        self.batches: list[int] = []  # sizes of the detect_many calls

    def detect_many(
        self, images: list[np.ndarray], encoded: list[bytes | None] | None = None
    ) -> list[Detections]:
        self.batches.append(len(images))
        self.calls += 1
        return [self._found() for _ in images]

    def detect(self, image: np.ndarray, encoded: bytes | None = None) -> Detections:
        self.calls += 1
        return self._found()

    @staticmethod
    def _found() -> Detections:
        return Detections(
            np.array([[1, 2, 30, 40], [5, 5, 50, 50], [0, 0, 9, 9]], np.float32),
            np.array([0.9, 0.45, 0.8], np.float32),
            np.array([2, 5, 17], np.int64),
            np.array(["car", "bus", "dog"], dtype=object),
        )


class FakeCache:
    """The cache port in a dict; ``down`` makes every call fail like a dead Redis."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}  # by key, as JSON
        self.last: dict[str, tuple[str, int]] = {}  # last_frame key -> (hash, since ms)
        self.keys: dict[str, str] = {}  # claims: key -> pending / done
        self.aliases: dict[str, str] = {}
        self.strings: dict[str, tuple[str, int]] = {}  # update(): key -> (value, ttl s)
        self.buckets: dict[str, tuple[float, float]] = {}  # take(): key -> (tokens, last refill)
        self.down = False
        self.down_for_calls = 0  # the next calls fail, then Redis is back (a short outage)
        self.counts: dict[str, int] = {}

    def _check(self) -> None:
        if self.down_for_calls:
            self.down_for_calls -= 1
            raise DependencyUnavailableError("redis", "connection refused")
        if self.down:
            raise DependencyUnavailableError("redis", "connection refused")

    def lookup(
        self, result_key: str, last_frame_key: str, digest: str, now_ms: int, history_ttl_s: int
    ) -> tuple[CachedResult | None, int]:
        self._check()
        prev = self.last.get(last_frame_key)
        since = prev[1] if prev and prev[0] == digest else now_ms
        self.last[last_frame_key] = (digest, since)
        found = self.results.get(result_key)
        return (CachedResult.from_dict(found) if found is not None else None), since

    def get(self, key: str) -> str | None:
        self._check()
        if key in self.strings:
            return self.strings[key][0]
        return self.aliases.get(key)

    def store(
        self, result_key: str, result: CachedResult, ttl_s: int, aliases: Mapping[str, str]
    ) -> None:
        self._check()
        self.results[result_key] = result.as_dict()  # as Redis keeps it: JSON
        self.aliases.update(aliases)

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        self._check()
        return [self.strings[k][0] if k in self.strings else None for k in keys]

    def put_many(self, values: Mapping[str, str], ttl_s: int) -> None:
        self._check()
        self.strings.update({k: (v, ttl_s) for k, v in values.items()})

    def claim(self, key: str, ttl_s: int, owner: str = "") -> str:
        self._check()
        value = f"pending:{owner}" if owner else "pending"
        if key not in self.keys:
            self.keys[key] = value
            return "taken"
        return "retaken" if owner and self.keys[key] == value else ""

    def confirm(self, key: str, ttl_s: int) -> None:
        self.keys[key] = "done"

    def release(self, key: str) -> None:
        self.keys.pop(key, None)

    def count(self, key: str, ttl_s: int) -> int:
        self._check()
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    def state(self, key: str) -> str | None:
        self._check()
        value = self.keys.get(key)
        return "pending" if value and value.startswith("pending") else value

    def update(self, key: str, change: Callable[[str | None], tuple[str, Any]], ttl_s: int) -> Any:
        self._check()
        current = self.strings.get(key)
        value, result = change(current[0] if current else None)
        self.strings[key] = (value, ttl_s)
        return result

    def take(self, key: str, per_minute: int, burst: int, now: float) -> float:
        """The token bucket of RedisCache's Lua script, in a dict."""
        self._check()
        rate = per_minute / 60
        tokens, ts = self.buckets.get(key, (float(burst), now))
        if now > ts:
            tokens, ts = min(burst, tokens + (now - ts) * rate), now
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        self.buckets[key] = (tokens, ts)
        return wait

    def ping(self) -> None:
        self._check()


class FakeWarehouse:
    """Rows by table; ``fail_next`` makes the next insert fail like a dead BigQuery."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.ids: set[tuple[str, str]] = set()
        self.fail_next = 0
        self.land_then_fail = 0  # the insert lands, the caller hears a timeout (a paused server)

    def insert(self, rows: Sequence[Row]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise DependencyUnavailableError("bigquery", "503")
        for row in rows:
            self.rows.setdefault(row.table, []).append(row.as_row())
            self.ids.add((row.table, row.row_id))
        if self.land_then_fail:
            self.land_then_fail -= 1
            raise DependencyUnavailableError("bigquery", "timed out")

    def contains(self, row: Row) -> bool:
        return (row.table, row.row_id) in self.ids

    def ping(self) -> None:
        return None


class FakeBus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    fail_next = 0

    def publish(self, topic: str, messages: Sequence[Message], **attributes: str) -> list[str]:
        if self.fail_next:
            self.fail_next -= 1
            raise DependencyUnavailableError("pubsub", "503")
        for m in messages:
            self.sent.append((topic, validate(m.schema, m.as_message()), attributes))
        return [str(i) for i in range(len(messages))]

    def publish_raw(self, topic: str, data: bytes, **attributes: str) -> str:
        """Refuses what Pub/Sub refuses: over 10 MB, or an attribute that is not UTF-8 of at
        most 1,024 bytes."""
        if self.fail_next:
            self.fail_next -= 1
            raise DependencyUnavailableError("pubsub", "503")
        values = [v.encode() for v in attributes.values()]  # a lone surrogate raises here
        if len(data) + sum(map(len, values)) > 10_000_000 or max(map(len, values)) > 1024:
            raise ValueError("Pub/Sub refuses this message: too large")
        self.sent.append((topic, {"raw": data}, attributes))
        return "1"


class FakeEvidence:
    """Evidence objects by URI; ``down`` fails like a dead Cloud Storage."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.writes: list[str] = []  # every URI written, in order (an overwrite again)
        self.down = False

    def write(self, bucket: str, name: str, data: bytes, content_type: str) -> str:
        if self.down:
            raise DependencyUnavailableError("storage", "503")
        uri = f"gs://{bucket}/{name}"
        self.objects[uri] = data
        self.writes.append(uri)
        return uri

    def read(self, bucket: str, name: str, max_bytes: int) -> bytes:
        return self.objects[f"gs://{bucket}/{name}"][: max_bytes + 1]

    def ping(self) -> None:
        if self.down:
            raise DependencyUnavailableError("storage", "503")


def message(payload: Any, message_id: str = "7") -> PubsubMessage:
    """A Pub/Sub message as the envelope decoder hands it on (no attributes)."""
    return PubsubMessage(payload, {}, message_id, json.dumps(payload).encode())


def registry_of(*cameras: dict[str, Any]) -> Registry:
    """A registry of cameras given as id and source (and more); name and location filled."""
    docs = [{"name": c["id"], "location": {"lat": 0.0, "lon": 0.0}, **c} for c in cameras]
    return parse_registry(yaml.safe_dump({"cameras": docs}))


@dataclass
class Rig:
    """A CameraProcessor wired to fakes, with the fakes at hand."""

    processor: CameraProcessor
    frames: FakeFrames
    detector: FakeDetector
    cache: FakeCache
    warehouse: FakeWarehouse
    evidence: FakeEvidence
    bus: FakeBus


def rig(registry: Registry, frames: dict[str, Any], originals: bool = False) -> Rig:
    """A processor over ``registry`` whose cameras serve ``frames`` (by source); track ids
    ``t1``, ``t2``, ...; with ``originals``, originals are stored beside the evidence."""
    frames_, detector, cache = FakeFrames(frames), FakeDetector(), FakeCache()
    warehouse, evidence, bus = FakeWarehouse(), FakeEvidence(), FakeBus()
    settings = Settings()
    store = EvidenceStore(evidence, cache, FakeSigner(), settings.evidence_bucket, 3600, originals)
    recorder = ViolationRecorder(cache, warehouse, store, bus)
    tracks = CameraTracker(cache, track_config(settings), settings.track_ttl_s, counter_ids())
    processor = CameraProcessor(
        settings, registry, frames_, detector, cache, warehouse, recorder, tracks
    )
    return Rig(processor, frames_, detector, cache, warehouse, evidence, bus)


class FakeSigner:
    """Signs ``gs://b/o`` as a URL that names the object and the expiry (never fetched)."""

    def __init__(self) -> None:
        self.signed: list[tuple[str, int]] = []

    def sign(self, uri: str, expires_s: int) -> str:
        self.signed.append((uri, expires_s))
        return f"http://127.0.0.1:9/{uri.removeprefix('gs://')}?X-Goog-Expires={expires_s}"


# The simple case's subscribers: every alert by webhook, HIGH ones by email too.
SUBSCRIBERS = (
    Subscriber("webhook", url="https://hooks.example/x", secret_env="CAMWATCH_WEBHOOK_SECRET"),
    Subscriber("email", email=("ops@example.org",), min_severity=Severity.HIGH),
)


class FakeSender:
    """An alert channel that records what it took; ``fail_next`` refuses the next sends."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[Any] = []
        self.fail_next = 0

    def send(self, alert: Any) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise DeliveryFailedError(self.channel, "receiver answered 500")
        self.sent.append(alert)


@dataclass
class Wired:
    """Every adapter ``shared.bootstrap`` takes, as fakes: what the function entry points reach."""

    cache: FakeCache
    warehouse: FakeWarehouse
    blobs: FakeEvidence
    bus: FakeBus
    frames: FakeFrames
    detector: FakeDetector
    registry: Registry
    senders: dict[str, FakeSender]
    signer: FakeSigner
    subscribers: tuple[Subscriber, ...] = SUBSCRIBERS

    def overrides(self) -> dict[str, Any]:
        """The keywords of ``bootstrap.bootstrap`` (and ``bootstrap.build``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def wired(registry: Registry, frames: dict[str, Any] | None = None) -> Wired:
    """Fakes for a bootstrap over ``registry`` whose cameras serve ``frames`` (by source)."""
    return Wired(
        cache=FakeCache(),
        warehouse=FakeWarehouse(),
        blobs=FakeEvidence(),
        bus=FakeBus(),
        frames=FakeFrames(frames or {}),
        detector=FakeDetector(),
        registry=registry,
        senders={s.name: FakeSender(s.channel) for s in SUBSCRIBERS},
        signer=FakeSigner(),
    )


class FakeDeadLetters:
    """Dead-letter subscriptions and the messages waiting on each; ``down`` fails the peek."""

    def __init__(self, waiting: dict[str, int] | None = None) -> None:
        self.waiting = waiting or {}
        self.down = False

    def pending(self, subscriptions: Sequence[str]) -> dict[str, int]:
        if self.down:
            raise DependencyUnavailableError("pubsub", "503")
        return {s: min(100, self.waiting.get(s, 0)) for s in subscriptions}


# An API key of every scope: the ``api_key`` fixture (tests/unit/conftest.py) configures it,
# ``keyed(client)`` sends it with every request of a Flask test client.
TEST_KEY = "cwk_" + "k" * 43


def api_keys_json(*entries: tuple[str, str, list[str]], per_minute: int | None = None) -> str:
    """``CAMWATCH_API_KEYS`` of (name, key, scopes) entries."""
    keys = [key_entry(name, key, scopes, per_minute) for name, key, scopes in entries]
    return json.dumps({"keys": keys})


TEST_KEYS = api_keys_json(("tests", TEST_KEY, ["process", "predictions"]), per_minute=10**6)


def keyed(client: FlaskClient, key: str = TEST_KEY) -> FlaskClient:
    """``client`` sending ``X-API-Key: key`` with each request."""
    client.environ_base["HTTP_X_API_KEY"] = key
    return client
