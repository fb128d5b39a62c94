"""The alert wiring: the subscribers from the settings, and a sender for each.

``CAMWATCH_ALERT_SUBSCRIBERS`` names them (a YAML or JSON file's path, or the JSON itself;
``schemas/alert_subscribers.schema.json``, docs/alerts.md); without it, the simple case:
``CAMWATCH_WEBHOOK_URL`` and ``CAMWATCH_ALERT_EMAIL_TO`` are one subscriber each.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from shared.adapters.alert_channels import AlertSender
from shared.adapters.smtp import SmtpSender
from shared.adapters.webhook import WebhookSender, check_url
from shared.domain.alerts import Alert
from shared.domain.subscriber_config import (
    WEBHOOK_SECRET_ENV,
    parse_subscribers,
    simple_subscribers,
)
from shared.domain.subscribers import Subscriber
from shared.errors import ConfigError, MessageRejectedError
from shared.messages.schemas import validate
from shared.settings import Settings
from shared.settings_alerts import check_whsec, split_secrets

log = logging.getLogger(__name__)

VARIABLE = "CAMWATCH_ALERT_SUBSCRIBERS"
SCHEMA = "./alert_subscribers"  # schemas/alert_subscribers.schema.json (not a Pub/Sub payload)
ONE_OF = "a subscriber has exactly one of url and email (secret_env and format are a webhook's)"


def _document(value: str) -> Any:
    """The subscribers' document: inline JSON, or a ``.json``/``.yaml``/``.yml`` file."""
    text = value.strip()
    try:
        if text.startswith(("{", "[")):
            return json.loads(text)
        path = Path(text)
        if path.suffix not in (".json", ".yaml", ".yml"):
            raise ConfigError(f"{VARIABLE}: want inline JSON or a .json/.yaml/.yml file: {text!r}")
        return (
            yaml.safe_load(path.read_text())
            if path.suffix != ".json"
            else json.loads(path.read_text())
        )
    except OSError as exc:
        raise ConfigError(f"{VARIABLE}: cannot read {text!r}: {exc.strerror}") from exc
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{VARIABLE}: not valid JSON/YAML: {exc}") from exc


def subscribers(settings: Settings) -> tuple[Subscriber, ...]:
    """The configured subscribers (the simple case when ``CAMWATCH_ALERT_SUBSCRIBERS`` is unset).

    Raises:
        ConfigError: the document breaks its schema (the first problem, with its path), two
            subscribers share a name, or a webhook URL is not http(s) (https unless
            ``CAMWATCH_ALLOW_PRIVATE_SOURCES``).
    """
    if settings.alert_subscribers:
        doc = _document(settings.alert_subscribers)
        try:
            validate(SCHEMA, doc)
        except MessageRejectedError as exc:
            problem = exc.message.removeprefix(SCHEMA)
            hint = f" ({ONE_OF})" if "under any of the given schemas" in problem else ""
            raise ConfigError(f"{VARIABLE}: {problem.lstrip('.')}{hint}") from exc
        found = parse_subscribers(doc)
    else:
        recipients = settings.alert_recipients if settings.smtp_host else []
        if settings.alert_recipients and not settings.smtp_host:
            log.warning("CAMWATCH_ALERT_EMAIL_TO without CAMWATCH_SMTP_HOST: no alert emails")
        found = simple_subscribers(settings.webhook_url, recipients)
    for s in found:
        if s.url:
            try:
                check_url(s.url, settings.allow_private_sources)
            except ConfigError as exc:
                raise ConfigError(f"alert subscriber {s.name}: {exc.message}") from exc
    return found


def secrets_of(subscriber: Subscriber, settings: Settings) -> list[str]:
    """The signing secrets of a webhook subscriber (two while rotating; none: unsigned), from
    the environment variable it names (``CAMWATCH_WEBHOOK_SECRET``: the settings' field).

    Raises:
        ConfigError: the variable is missing or holds something other than ``whsec_``
            secrets (named, never printed).
    """
    if subscriber.secret_env is None:
        return []
    if subscriber.secret_env == WEBHOOK_SECRET_ENV and settings.webhook_secret:
        value = settings.webhook_secret.get_secret_value()
    else:
        value = os.environ.get(subscriber.secret_env, "")
    secrets = split_secrets(value)
    if not secrets:
        raise ConfigError(f"alert subscriber {subscriber.name}: {subscriber.secret_env} is not set")
    for secret in secrets:
        try:
            check_whsec(secret)
        except ValueError as exc:
            raise ConfigError(
                f"alert subscriber {subscriber.name}: {subscriber.secret_env}: {exc}"
            ) from None
    return secrets


class Misconfigured:
    """The sender of a subscriber whose settings are wrong: each send raises the error, so
    that subscriber's messages retry and then wait in the dead letter, and no other waits."""

    def __init__(self, channel: str, error: ConfigError) -> None:
        self.channel, self.error = channel, error

    def send(self, alert: Alert) -> None:
        """Raise the configuration error (the message is retried, then dead-lettered)."""
        raise ConfigError(self.error.message)


def senders(settings: Settings, subscribers: Sequence[Subscriber]) -> dict[str, AlertSender]:
    """A sender per subscriber, by name: a webhook's, or an email's (``CAMWATCH_SMTP_*``).

    A subscriber whose secret is missing or invalid, or an email subscriber without an SMTP
    relay (``CAMWATCH_SMTP_HOST``), gets a :class:`Misconfigured` sender that raises
    :class:`ConfigError` naming the variable (never its value) on each send.
    """
    found: dict[str, AlertSender] = {}
    for sub in subscribers:
        try:
            found[sub.name] = _sender(settings, sub)
        except ConfigError as exc:
            log.error(
                "alert subscriber misconfigured",
                extra={"subscriber": sub.name, "error": exc.message},
            )
            found[sub.name] = Misconfigured(sub.channel, exc)
    return found


def _sender(s: Settings, sub: Subscriber) -> AlertSender:
    if sub.url:
        return WebhookSender(
            sub.url,
            secrets_of(sub, s),
            s.webhook_timeout_s,
            sub.format,
            s.allow_private_sources,
            name=sub.name,
        )
    if not s.smtp_host:
        raise ConfigError(f"alert subscriber {sub.name}: email needs CAMWATCH_SMTP_HOST")
    return SmtpSender(
        s.smtp_host,
        s.smtp_port,
        s.alert_email_from,
        list(sub.email),
        s.smtp_timeout_s,
        s.smtp_starttls,
        s.smtp_username,
        s.smtp_password.get_secret_value() if s.smtp_password else None,
    )
