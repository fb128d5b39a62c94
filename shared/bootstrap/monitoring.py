"""The monitor's wiring: thresholds from the settings, the dependencies' checks, the
dead-letter pull subscriptions of every route, and the router to the alert subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.adapters.bus import DeadLetters, PubSubDeadLetters
from shared.bootstrap import alerting
from shared.domain.subscribers import Subscriber
from shared.messages.topology import ROUTES
from shared.service_layer.deliveries import Router
from shared.service_layer.monitor import DEPENDENCIES, Monitor, Thresholds
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.bootstrap import Services


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
    return tuple(f"{r.dead_letter_topic}-pull" for r in ROUTES)


def alert_subscribers(settings: Settings) -> tuple[Subscriber, ...]:
    """The configured subscribers (``shared.bootstrap.alerting.subscribers``; none without)."""
    configured = getattr(alerting, "subscribers", None)
    return tuple(configured(settings)) if configured else ()


def monitor(
    services: Services,
    subscribers: tuple[Subscriber, ...] | None = None,
    dead_letters: DeadLetters | None = None,
) -> Monitor:
    """The monitor over the services' cache, bus, registry and checks."""
    s = services.settings
    checks = {k: v for k, v in services.health_checks().items() if k in DEPENDENCIES}
    return Monitor(
        cache=services.cache,
        router=Router(alert_subscribers(s) if subscribers is None else subscribers, services.bus),
        cameras=lambda: [c.id for c in services.registry.cameras],
        checks=checks,
        dead_letters=dead_letters or PubSubDeadLetters(s.project_id),
        subscriptions=dead_letter_subscriptions(),
        thresholds=thresholds(s),
    )
