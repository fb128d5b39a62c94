"""CloudEvent function: one violations message becomes a signed webhook (and, HIGH, an email)."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event


@functions_framework.cloud_event
def alert_dispatcher(cloud_event: Any) -> None:
    """Alert on one violation: HIGH webhook and email, MEDIUM webhook, below 0.6 nothing."""
    handle_event(cloud_event, "violations", Services.dispatch)
