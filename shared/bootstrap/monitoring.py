"""The monitor's wiring: thresholds from the settings, the dependencies' checks, the
dead-letter pull subscriptions of every route, and the router to the alert subscribers."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from shared.adapters.bus import DeadLetters, PubSubDeadLetters
from shared.adapters.cache import Cache
from shared.errors import DependencyUnavailableError
from shared.messages.topology import ROUTES
from shared.service_layer.idempotency import monitor_report_key
from shared.service_layer.monitor import DEPENDENCIES, Monitor, MonitorReport, Thresholds
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.bootstrap import Services

log = logging.getLogger(__name__)


def thresholds(settings: Settings) -> Thresholds:
    """``CAMWATCH_ALERT_COOLDOWN_S`` and ``CAMWATCH_MONITOR_*``."""
    s = settings
    return Thresholds(
        cooldown_s=s.alert_cooldown_s,
        offline_sweeps=s.monitor_offline_sweeps,
        window_s=s.monitor_window_s,
        min_calls=s.monitor_min_calls,
        max_error_rate=s.monitor_max_error_rate,
        max_p95_ms=s.monitor_max_p95_ms,
    )


def dead_letter_subscriptions() -> tuple[str, ...]:
    """Every route's dead-letter pull subscription (terraform/pubsub.tf creates them)."""
    return tuple(r.dead_letter_subscription for r in ROUTES)


def monitor(services: Services, dead_letters: DeadLetters | None = None) -> Monitor:
    """The monitor over the services' cache, router, registry and checks."""
    s = services.settings
    checks = {k: v for k, v in services.health_checks().items() if k in DEPENDENCIES}
    return Monitor(
        cache=services.cache,
        router=services.router,
        cameras=lambda: [c.id for c in services.registry.cameras],
        checks=checks,
        dead_letters=dead_letters or PubSubDeadLetters(s.project_id),
        subscriptions=dead_letter_subscriptions(),
        thresholds=thresholds(s),
    )


REPORT_S = 3600  # how long a tick's report stays in Redis


def keep_report(cache: Cache, message_id: str, report: MonitorReport) -> None:
    """Keep the tick's report (what ``make run`` prints); with Redis down, only the logs."""
    try:
        cache.put_many({monitor_report_key(message_id): json.dumps(report.as_report())}, REPORT_S)
    except DependencyUnavailableError:
        log.warning("monitor report not kept: Redis is down", extra={"message_id": message_id})
