"""CloudEvent function: one anomalies message (an interval the forecast job found) becomes a
signed traffic.anomaly webhook (and, HIGH, an email), once however often it is found."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event, handle_unconverted


@functions_framework.cloud_event
def anomaly_dispatcher(cloud_event: Any) -> None:
    """Alert on one anomalous interval: an hour or more HIGH (webhook and email), else MEDIUM."""
    handle_event(cloud_event, "anomalies", Services.dispatch_anomaly)


@functions_framework.errorhandler(Exception)  # type: ignore[untyped-decorator]
def unconverted_push(exc: Exception) -> Any:
    """A push functions-framework could not make a CloudEvent of: decoded by camwatch."""
    return handle_unconverted(exc, "anomalies", Services.dispatch_anomaly)
