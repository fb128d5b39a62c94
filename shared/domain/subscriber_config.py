"""The subscribers' configuration (``CAMWATCH_ALERT_SUBSCRIBERS``) as :class:`Subscriber` s.

The document is checked against ``schemas/alert_subscribers.schema.json`` first (by the
bootstrap); this module adds what a schema cannot say (unique names) and builds the records.
Without a document, the simple case: ``CAMWATCH_WEBHOOK_URL`` and ``CAMWATCH_ALERT_EMAIL_TO``
are one subscriber each (:func:`simple_subscribers`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.alerts import Severity
from shared.domain.subscribers import PayloadFormat, Subscriber
from shared.errors import ConfigError

WEBHOOK = "webhook"  # the simple case's names: the claim keys and alerts rows of old
EMAIL = "email"
WEBHOOK_SECRET_ENV = "CAMWATCH_WEBHOOK_SECRET"


def parse_subscribers(doc: Mapping[str, Any]) -> tuple[Subscriber, ...]:
    """The subscribers of a schema-valid document ``{"subscribers": [...]}``.

    Raises:
        ConfigError: two subscribers share a name.
    """
    entries: Sequence[Mapping[str, Any]] = doc["subscribers"]
    twice = sorted(n for n, k in Counter(e["name"] for e in entries).items() if k > 1)
    if twice:
        raise ConfigError(f"alert subscribers: names must be unique, repeated: {twice}")
    return tuple(_subscriber(e) for e in entries)


def _subscriber(entry: Mapping[str, Any]) -> Subscriber:
    return Subscriber(
        name=entry["name"],
        url=entry.get("url"),
        email=tuple(entry.get("email", ())),
        secret_env=entry.get("secret_env"),
        format=PayloadFormat(entry.get("format", PayloadFormat.STANDARD)),
        min_severity=Severity(entry.get("min_severity", Severity.MEDIUM)),
        event_types=tuple(entry.get("event_types", ())),
        cameras=tuple(entry.get("cameras", ())),
    )


def simple_subscribers(
    webhook_url: str | None, recipients: Sequence[str]
) -> tuple[Subscriber, ...]:
    """The simple case: ``webhook`` (every MEDIUM and HIGH alert, signed with
    ``CAMWATCH_WEBHOOK_SECRET``) and ``email`` (HIGH only), each only when configured."""
    found: list[Subscriber] = []
    if webhook_url:
        found.append(Subscriber(WEBHOOK, url=webhook_url, secret_env=WEBHOOK_SECRET_ENV))
    if recipients:
        found.append(Subscriber(EMAIL, email=tuple(recipients), min_severity=Severity.HIGH))
    return tuple(found)
