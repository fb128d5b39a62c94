"""CloudEvent function: one violations message becomes a signed webhook (and, HIGH, an email)."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event, handle_unconverted


@functions_framework.cloud_event
def alert_dispatcher(cloud_event: Any) -> None:
    """Alert on one violation: HIGH webhook and email, MEDIUM webhook, below 0.6 nothing."""
    handle_event(cloud_event, "violations", Services.dispatch)


@functions_framework.errorhandler(Exception)  # type: ignore[untyped-decorator]
def unconverted_push(exc: Exception) -> Any:
    """A push functions-framework could not make a CloudEvent of: decoded by camwatch."""
    return handle_unconverted(exc, "violations", Services.dispatch)
