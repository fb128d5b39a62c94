"""Lazy, cached bootstrap: build the adapters on first use, keep them for the warm instance.

``import`` of a function module never opens a connection or loads a model: the Redis pool
connects on its first command and the detector loads its model on its first frame. Tests and
tools replace any adapter by its keyword (a misspelt one is a ``TypeError``, never a silently
real adapter).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TypedDict, Unpack

from shared.adapters.alert_channels import AlertSender
from shared.adapters.blobstore import BlobStore, GcsBlobStore, storage_client
from shared.adapters.bus import DeadLetters, EventBus, PubSubBus
from shared.adapters.cache import Cache, RedisCache
from shared.adapters.frame_sources import (
    FileSource,
    FrameFetcher,
    FrameSource,
    GcsSource,
    VideoSource,
)
from shared.adapters.http_snapshot import HttpSnapshotSource
from shared.adapters.id_tokens import GoogleIdTokens
from shared.adapters.url_signer import UrlSigner, make_signer
from shared.adapters.warehouse import BigQueryWarehouse, Warehouse, bigquery_client
from shared.bootstrap import alerting, monitoring
from shared.detection.factory import make_detector
from shared.detection.port import Detector
from shared.domain.observations import Observation
from shared.domain.registry import Registry, load_registry
from shared.domain.subscribers import Subscriber
from shared.errors import ConfigError
from shared.forecasting.port import Tables
from shared.messages.envelope import PubsubMessage
from shared.messages.schemas import validate
from shared.service_layer.alerts import AlertDispatcher
from shared.service_layer.auth import Authenticator, authenticator
from shared.service_layer.camera_job import handle_job
from shared.service_layer.deliveries import Deliveries, Router
from shared.service_layer.evidence import EvidenceStore
from shared.service_layer.health import MeteredDetector
from shared.service_layer.monitor import Monitor
from shared.service_layer.predictions import PredictionService
from shared.service_layer.processor import CameraProcessor
from shared.service_layer.sweep import fan_out
from shared.service_layer.violations import ViolationRecorder
from shared.settings import Settings, get_settings


@dataclass
class Services:
    """What the entry points use, built once per instance."""

    settings: Settings
    processor: CameraProcessor
    cache: Cache
    warehouse: Warehouse
    blobs: BlobStore
    bus: EventBus
    tables: Tables | None = None  # queries (the predictions read forecasts)
    # Alerting, when given (tests, tools); else from the settings on first use, so that a
    # bad configuration fails the alert functions (retried, dead-lettered), not every one.
    subscribers: tuple[Subscriber, ...] | None = None
    senders: Mapping[str, AlertSender] | None = None
    dead_letters: DeadLetters | None = None  # None: Pub/Sub's

    @cached_property
    def authenticator(self) -> Authenticator:
        """Who may call the HTTP functions, and how often (docs/auth.md)."""
        s = self.settings
        tokens = None
        if s.id_token_audience:
            tokens = GoogleIdTokens(s.id_token_certs_url, s.id_token_issuers.split())
        return authenticator(s, self.cache, tokens)

    @cached_property
    def router(self) -> Router:
        """Routes an alert to the subscribers that want it (``alert-deliveries``)."""
        found = self.subscribers
        return Router(alerting.subscribers(self.settings) if found is None else found, self.bus)

    @cached_property
    def alerts(self) -> AlertDispatcher:
        """Violations and anomalies routed to the subscribers."""
        return AlertDispatcher(self.router, self.cache, self.warehouse, self.registry)

    @cached_property
    def deliveries(self) -> Deliveries:
        """Each ``alert-deliveries`` message sent to its subscriber, once."""
        senders = self.senders
        if senders is None:
            senders = alerting.senders(self.settings, self.router.subscribers)
        return Deliveries(senders, self.cache)

    @cached_property
    def monitor(self) -> Monitor:
        """The system alerts' monitor (``monitor``)."""
        return monitoring.monitor(self, self.dead_letters)

    def monitor_tick(self, message: PubsubMessage) -> dict[str, int]:
        """Evaluate the system alerts on one ``monitor-ticks`` message; its report is kept
        in Redis for an hour (``monitor:report:{message_id}``) when Redis is up."""
        validate("monitor_tick", message.data)
        report = self.monitor.tick(datetime.now(UTC))
        monitoring.keep_report(self.cache, message.message_id, report)
        return report.as_dict()

    @cached_property
    def predictions(self) -> PredictionService:
        """The forecasts answered over HTTP (``predictions``)."""
        if self.tables is None:
            raise ConfigError("predictions need a BigQuery warehouse that answers queries")
        return PredictionService.of(self.settings, self.registry, self.cache, self.tables)

    @property
    def registry(self) -> Registry:
        """The camera registry."""
        return self.processor.registry

    def process(self, camera_id: str, request_id: str = "") -> Observation:
        """Process one camera on demand (``POST /process/camera/{id}``)."""
        return self.processor.process(camera_id, request_id)

    def run_job(self, message: PubsubMessage) -> str:
        """Process the camera of one ``camera-jobs`` message, once in effect."""
        return handle_job(message, self.processor, self.cache)

    def fan_out(self, message: PubsubMessage) -> int:
        """Publish a job per camera of one ``camera-sweep`` message."""
        return fan_out(message, self.registry, self.bus)

    def dispatch(self, message: PubsubMessage) -> dict[str, str]:
        """Alert on one ``violations`` message."""
        return self.alerts.dispatch(message.data, message.message_id)

    def dispatch_anomaly(self, message: PubsubMessage) -> dict[str, str]:
        """Alert on one ``anomalies`` message (an interval the forecast job found)."""
        return self.alerts.dispatch_anomaly(message.data, message.message_id)

    def deliver(self, message: PubsubMessage) -> str:
        """Send one ``alert-deliveries`` message's alert to its subscriber."""
        return self.deliveries.deliver(message.data, message.message_id)

    def health_checks(self) -> dict[str, Callable[[], None]]:
        """Each dependency's check (raises DependencyUnavailableError): ``GET /status``."""
        checks: dict[str, Callable[[], None]] = {
            "redis": self.cache.ping,
            "bigquery": self.warehouse.ping,
            "storage": self.blobs.ping,
        }
        if ping := getattr(self.processor.detector, "ping", None):  # a remote detector
            checks["inference"] = ping
        return checks


class Overrides(TypedDict, total=False):
    """Adapters a caller may supply instead of the real ones (tests, tools)."""

    cache: Cache
    warehouse: Warehouse
    blobs: BlobStore
    bus: EventBus
    frames: FrameSource
    detector: Detector
    registry: Registry
    senders: Mapping[str, AlertSender]
    subscribers: tuple[Subscriber, ...]
    tables: Tables
    signer: UrlSigner
    dead_letters: DeadLetters


_services: Services | None = None
_lock = threading.Lock()


def build(
    settings: Settings,
    *,
    cache: Cache | None = None,
    warehouse: Warehouse | None = None,
    blobs: BlobStore | None = None,
    bus: EventBus | None = None,
    frames: FrameSource | None = None,
    detector: Detector | None = None,
    registry: Registry | None = None,
    senders: Mapping[str, AlertSender] | None = None,
    subscribers: tuple[Subscriber, ...] | None = None,
    tables: Tables | None = None,
    signer: UrlSigner | None = None,
    dead_letters: DeadLetters | None = None,
) -> Services:
    """Build the real adapters, except those given."""
    s = settings
    blobs = blobs or GcsBlobStore(storage_client(s.project_id, s.storage_emulator_host))
    cache = cache or redis_cache(s)
    warehouse = warehouse or BigQueryWarehouse(
        bigquery_client(s.project_id, s.bigquery_endpoint),
        s.bigquery_dataset,
        s.bigquery_location,
        s.bigquery_timeout_s,
    )
    bus = bus or PubSubBus(s.project_id)
    processor = CameraProcessor(
        s,
        registry or load_registry(s.registry_path),
        frames or frame_fetcher(s, blobs),
        detector or MeteredDetector(make_detector(s), cache, s.monitor_window_s),
        cache,
        warehouse,
        ViolationRecorder(cache, warehouse, evidence_store(s, blobs, cache, signer), bus),
    )
    if tables is None and isinstance(warehouse, BigQueryWarehouse):
        tables = warehouse
    return Services(
        s, processor, cache, warehouse, blobs, bus, tables, subscribers, senders, dead_letters
    )


def redis_cache(settings: Settings, timeout_s: float | None = None) -> RedisCache:
    """Redis as the settings say (``CAMWATCH_REDIS_*``: host, port, AUTH string, TLS and its
    CA), with the settings' timeout unless ``timeout_s``."""
    s = settings
    return RedisCache.connect(
        s.redis_host,
        s.redis_port,
        timeout_s or s.redis_timeout_s,
        password=s.redis_password.get_secret_value() if s.redis_password else None,
        tls=s.redis_tls,
        ca_file=s.redis_ca_file,
    )


def evidence_store(
    settings: Settings, blobs: BlobStore, cache: Cache, signer: UrlSigner | None
) -> EvidenceStore:
    """Evidence in ``CAMWATCH_EVIDENCE_BUCKET``, its URLs signed by ``signer`` or the
    configured one (``CAMWATCH_URL_SIGNER``)."""
    s = settings
    signer = signer or make_signer(s)
    return EvidenceStore(
        blobs, cache, signer, s.evidence_bucket, s.evidence_url_expiry_s, s.store_original_frames
    )


def frame_fetcher(settings: Settings, blobs: BlobStore) -> FrameFetcher:
    """Every frame source, under the settings' time, byte and address limits."""
    s = settings
    return FrameFetcher(
        HttpSnapshotSource(
            s.connect_timeout_s,
            s.read_timeout_s,
            s.max_frame_bytes,
            s.allow_private_sources,
            max_segment_bytes=s.max_segment_bytes,
            max_pixels=s.max_frame_pixels,
        ),
        GcsSource(blobs, s.max_frame_bytes),
        VideoSource(s.connect_timeout_s + s.read_timeout_s),
        FileSource(s.max_frame_bytes),
        s.allow_file_sources,
        deadline_s=s.connect_timeout_s + s.read_timeout_s,
    )


def bootstrap(settings: Settings | None = None, **overrides: Unpack[Overrides]) -> Services:
    """The instance's services, built on the first call and reused afterwards.

    With overrides (tests, tools) the services are built anew with those adapters.
    """
    global _services
    if _services is None or overrides:
        with _lock:
            if _services is None or overrides:
                _services = build(settings or get_settings(), **overrides)
    return _services


def reset() -> None:
    """Forget the cached services (tests)."""
    global _services
    _services = None
