"""CloudEvent function: process the camera of one camera-jobs message, once in effect."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event
from shared.messages.envelope import PubsubMessage
from shared.service_layer.camera_job import handle_job


def _process(message: PubsubMessage, services: Services) -> str:
    return handle_job(message, services.processor, services.processor.cache)


@functions_framework.cloud_event
def camera_worker(cloud_event: Any) -> None:
    """Process one camera (the same service code as process_camera)."""
    handle_event(cloud_event, "camera-jobs", _process)
