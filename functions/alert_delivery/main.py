"""CloudEvent function: one alert-deliveries message is one alert sent to one subscriber."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event, handle_unconverted


@functions_framework.cloud_event
def alert_delivery(cloud_event: Any) -> None:
    """Send one alert to one subscriber (a webhook, a chat channel, email), once."""
    handle_event(cloud_event, "alert-deliveries", Services.deliver)


@functions_framework.errorhandler(Exception)  # type: ignore[untyped-decorator]
def unconverted_push(exc: Exception) -> Any:
    """A push functions-framework could not make a CloudEvent of: decoded by camwatch."""
    return handle_unconverted(exc, "alert-deliveries", Services.deliver)
