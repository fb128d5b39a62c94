"""The alert wiring: the subscribers from the settings, and a sender for each.

``CAMWATCH_ALERT_SUBSCRIBERS`` names them (docs/alerts.md); without it, the simple case:
``CAMWATCH_WEBHOOK_URL`` and ``CAMWATCH_ALERT_EMAIL_TO`` are one subscriber each.
"""

from __future__ import annotations

from shared.adapters.alert_channels import AlertSender
from shared.adapters.smtp import SmtpSender
from shared.adapters.webhook import WebhookSender
from shared.settings import Settings


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
