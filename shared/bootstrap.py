"""Lazy, cached bootstrap: build the adapters on first use, keep them for the warm instance.

``import`` of a function module never opens a connection or loads a model: the Redis pool
connects on its first command and the detector loads its model on its first frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from shared.adapters.blobstore import GcsBlobStore
from shared.adapters.bus import EventBus, PubSubBus
from shared.adapters.cache import RedisCache
from shared.adapters.frame_sources import (
    FileSource,
    FrameFetcher,
    GcsSource,
    HttpSnapshotSource,
    VideoSource,
)
from shared.adapters.google_clients import bigquery_client, storage_client
from shared.adapters.smtp import SmtpSender
from shared.adapters.warehouse import BigQueryWarehouse
from shared.adapters.webhook import WebhookSender
from shared.detection.factory import make_detector
from shared.domain.registry import load_registry
from shared.service_layer.alerts import AlertDispatcher, AlertSender
from shared.service_layer.processor import CameraProcessor
from shared.settings import Settings, get_settings


@dataclass
class Services:
    """Everything a function needs, built once per instance."""

    settings: Settings
    processor: CameraProcessor
    blobs: GcsBlobStore
    bus: EventBus
    alerts: AlertDispatcher


_services: Services | None = None
_lock = threading.Lock()


def build(settings: Settings, **overrides: Any) -> Services:
    """Build the real adapters; ``overrides`` replace any of them by name (tests, tools)."""
    blobs = overrides.get("blobs") or GcsBlobStore(
        storage_client(settings.project_id, settings.storage_emulator_host)
    )
    frames = overrides.get("frames") or FrameFetcher(
        HttpSnapshotSource(
            settings.connect_timeout_s,
            settings.read_timeout_s,
            settings.max_frame_bytes,
            settings.allow_private_sources,
        ),
        GcsSource(blobs, settings.max_frame_bytes),
        VideoSource(settings.connect_timeout_s + settings.read_timeout_s),
        FileSource(),
        settings.allow_file_sources,
    )
    detector = overrides.get("detector") or make_detector(settings)
    cache = overrides.get("cache") or RedisCache.connect(
        settings.redis_host, settings.redis_port, settings.redis_timeout_s
    )
    warehouse = overrides.get("warehouse") or BigQueryWarehouse(
        bigquery_client(settings.project_id, settings.bigquery_endpoint),
        settings.bigquery_dataset,
        settings.bigquery_location,
        settings.bigquery_timeout_s,
    )
    registry = overrides.get("registry") or load_registry(settings.registry_path)
    bus = overrides.get("bus") or PubSubBus(settings.project_id)
    processor = CameraProcessor(settings, registry, frames, detector, cache, warehouse, blobs, bus)
    senders = overrides.get("senders")
    alerts = AlertDispatcher(
        senders if senders is not None else alert_senders(settings), cache, warehouse
    )
    return Services(settings, processor, blobs, bus, alerts)


def alert_senders(settings: Settings) -> dict[str, AlertSender]:
    """The configured alert channels (a channel without settings is left out)."""
    senders: dict[str, AlertSender] = {}
    if settings.webhook_url and settings.webhook_secret:
        senders["webhook"] = WebhookSender(
            settings.webhook_url,
            settings.webhook_secret.get_secret_value(),
            settings.webhook_timeout_s,
        )
    if settings.smtp_host and settings.alert_recipients:
        senders["email"] = SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.alert_email_from,
            settings.alert_recipients,
            settings.smtp_timeout_s,
            settings.smtp_starttls,
            settings.smtp_username,
            settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        )
    return senders


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Services:
    """The instance's services, built on the first call and reused afterwards."""
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
