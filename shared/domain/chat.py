"""Chat bodies: an alert as a Slack-compatible incoming-webhook message (``text`` and
``blocks``), which Slack, Mattermost and Rocket.Chat's Slack-compatible hooks take.

``text`` is the notification's fallback (the alert's subject); the blocks show the subject as a
header, the details as a preformatted section (cut to Slack's 3,000-character limit) and a
context line with the event type, severity, camera and alert id.
"""

from __future__ import annotations

from typing import Any

from shared.domain.alerts import Alert

SECTION_MAX = 3000  # Slack's limit on a section's text
HEADER_MAX = 150  # Slack's limit on a header's plain text
CUT = "\n…"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def slack_body(alert: Alert) -> dict[str, Any]:
    """The alert as ``{"text", "blocks"}`` for a Slack-compatible incoming webhook."""
    subject = alert.email_subject()
    details = "```" + _cut(alert.email_text().rstrip(), SECTION_MAX - 6) + "```"
    context = (
        f"*{alert.event_type}* · {alert.severity} · "
        f"camera {alert.camera_id or '-'} · alert `{alert.id}`"
    )
    return {
        "text": subject,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(subject, HEADER_MAX)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": details}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }
