"""CloudEvent function: each minute's ``monitor-ticks`` message evaluates the system alerts."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event, handle_unconverted


@functions_framework.cloud_event
def monitor(cloud_event: Any) -> None:
    """Raise or resolve what is due: cameras, inference, dependencies, dead letters."""
    handle_event(cloud_event, "monitor-ticks", Services.monitor_tick)


@functions_framework.errorhandler(Exception)  # type: ignore[untyped-decorator]
def unconverted_push(exc: Exception) -> Any:
    """A push functions-framework could not make a CloudEvent of: decoded by camwatch."""
    return handle_unconverted(exc, "monitor-ticks", Services.monitor_tick)
