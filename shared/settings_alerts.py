"""Alerts: who is told what (subscribers, webhook and email channels) and when the system
alerts on itself. :class:`shared.settings.Settings` inherits these fields (``CAMWATCH_WEBHOOK_*``,
``CAMWATCH_SMTP_*``, ``CAMWATCH_ALERT_*``, ``CAMWATCH_MONITOR_*``), documented with the rest in
``docs/reference/settings.md`` (docs/alerts.md).
"""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def split_secrets(value: str) -> list[str]:
    """One or more ``whsec_`` secrets separated by spaces or commas (two while rotating)."""
    return [s for s in value.replace(",", " ").split() if s]


def check_whsec(secret: str) -> None:
    """ValueError unless ``secret`` is ``whsec_`` + base64 of at least 16 bytes."""
    try:
        ok = len(base64.b64decode(secret.removeprefix("whsec_") + "==", validate=False)) >= 16
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise ValueError("want whsec_ followed by base64 of at least 16 random bytes")


class AlertSettings(BaseSettings):
    """Subscribers and channels of alerts; thresholds and cooldown of the system alerts."""

    model_config = SettingsConfigDict(env_prefix="CAMWATCH_", extra="ignore", frozen=True)

    # Subscribers (docs/alerts.md)
    alert_subscribers: str | None = Field(
        None,
        description="The alert subscribers: a YAML or JSON file's path, or the JSON itself "
        "(schemas/alert_subscribers.schema.json). Unset: CAMWATCH_WEBHOOK_URL and "
        "CAMWATCH_ALERT_EMAIL_TO are the subscribers (the simple case).",
    )
    # The simple case: one webhook subscriber and one email subscriber
    webhook_url: str | None = Field(
        None, description="Where signed alert webhooks are POSTed (https in production)."
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Standard Webhooks signing secret, `whsec_` + base64 of at least 16 "
        "random bytes (from Secret Manager); two, space-separated, while rotating.",
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="Deadline of one webhook POST.")
    smtp_host: str | None = Field(None, description="SMTP relay for alert emails.")
    smtp_port: int = Field(587, gt=0, lt=65536, description="SMTP port.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP login (none: no AUTH).")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (Secret Manager).")
    smtp_timeout_s: float = Field(10.0, gt=0, description="Deadline of one SMTP session.")
    alert_email_from: str = Field("camwatch@localhost", description="From: of alert emails.")
    alert_email_to: str = Field(
        "", description="Comma-separated recipients of HIGH alert emails (empty: no email)."
    )
    # System alerts (the monitor function; docs/alerts.md)
    alert_cooldown_s: int = Field(
        900,
        ge=0,
        description="At most one system alert (raised or resolved) per condition in this "
        "time: a flapping camera is reported once, then its state after the cooldown.",
    )
    monitor_offline_sweeps: int = Field(
        3, ge=1, description="camera.offline after this many sweeps in a row without a frame."
    )
    monitor_window_s: int = Field(
        300, ge=60, description="Window of the inference service's error rate and p95."
    )
    monitor_min_calls: int = Field(
        10, ge=1, description="inference.degraded needs at least this many calls in the window."
    )
    monitor_max_error_rate: float = Field(
        0.2, gt=0, le=1, description="inference.degraded above this share of failed calls."
    )
    monitor_max_p95_ms: float = Field(
        2000.0, gt=0, description="inference.degraded above this p95 latency (ms)."
    )

    @field_validator("webhook_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            secrets = split_secrets(value.get_secret_value())
            if not secrets:
                raise ValueError("want whsec_ followed by base64 of at least 16 random bytes")
            for secret in secrets:
                check_whsec(secret)
        return value

    @property
    def alert_recipients(self) -> list[str]:
        """``alert_email_to`` as a list."""
        return [a.strip() for a in self.alert_email_to.split(",") if a.strip()]
