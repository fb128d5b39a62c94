"""CloudEvent function: process the camera of one camera-jobs message, once in effect."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event, handle_unconverted


@functions_framework.cloud_event
def camera_worker(cloud_event: Any) -> None:
    """Process one camera (the same service code as process_camera)."""
    handle_event(cloud_event, "camera-jobs", Services.run_job)


@functions_framework.errorhandler(Exception)  # type: ignore[untyped-decorator]
def unconverted_push(exc: Exception) -> Any:
    """A push functions-framework could not make a CloudEvent of: decoded by camwatch."""
    return handle_unconverted(exc, "camera-jobs", Services.run_job)
