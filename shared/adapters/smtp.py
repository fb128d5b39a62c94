"""Email alert sender: SMTP (``smtplib``), one message per HIGH alert.

The Message-ID is derived from the alert id (a violation's, or an anomalous interval's), so a
mail system that sees a retried message twice can tell it is the same alert. The headers
``X-Camwatch-Alert-Id`` and ``X-Camwatch-Event`` name it (``X-Camwatch-Violation-Id`` too, for
a violation).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from shared.domain.alerts import Alert
from shared.errors import DeliveryFailedError

log = logging.getLogger(__name__)


def compose(alert: Alert, sender: str, recipients: list[str]) -> EmailMessage:
    """The alert as a plain-text email (its subject and text are the alert's own)."""
    message = EmailMessage()
    message["Subject"] = alert.email_subject()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = f"<{alert.id}@camwatch>"
    message["X-Camwatch-Alert-Id"] = alert.id
    message["X-Camwatch-Event"] = alert.event_type
    if alert.event_type == "violation.detected":  # the header receivers of violations read
        message["X-Camwatch-Violation-Id"] = alert.id
    message.set_content(alert.email_text())
    return message


class SmtpSender:
    """Sends alert emails through one SMTP relay (STARTTLS and login when configured)."""

    channel = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        timeout_s: float,
        starttls: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._host, self._port, self._timeout = host, port, timeout_s
        self._sender, self._recipients = sender, recipients
        self._starttls, self._username, self._password = starttls, username, password

    def send(self, alert: Alert) -> None:
        """Deliver the email or raise :class:`DeliveryFailedError` (the message is retried)."""
        message = compose(alert, self._sender, self._recipients)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailedError("email", f"{type(exc).__name__}: {exc}") from exc
        if refused:  # the others have it: a retry would send them a second copy
            log.warning(
                "alert email refused by some recipients",
                extra={"violation_id": alert.id, "refused": sorted(refused)},
            )
