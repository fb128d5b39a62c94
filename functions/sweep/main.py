"""CloudEvent function: a camera-sweep message (Cloud Scheduler) fans out camera jobs."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event, handle_unconverted


@functions_framework.cloud_event
def sweep(cloud_event: Any) -> None:
    """Publish one camera-jobs message per camera of the sweep."""
    handle_event(cloud_event, "camera-sweep", Services.fan_out)


@functions_framework.errorhandler(Exception)  # type: ignore[untyped-decorator]
def unconverted_push(exc: Exception) -> Any:
    """A push functions-framework could not make a CloudEvent of: decoded by camwatch."""
    return handle_unconverted(exc, "camera-sweep", Services.fan_out)
