"""CloudEvent function: a camera-sweep message (Cloud Scheduler) fans out camera jobs."""

from typing import Any

import functions_framework

from shared.bootstrap import Services
from shared.entrypoints.pubsub import handle_event
from shared.messages.envelope import PubsubMessage
from shared.service_layer.sweep import fan_out


def _fan_out(message: PubsubMessage, services: Services) -> int:
    return fan_out(message, services.processor.registry, services.bus)


@functions_framework.cloud_event
def sweep(cloud_event: Any) -> None:
    """Publish one camera-jobs message per camera of the sweep."""
    handle_event(cloud_event, "camera-sweep", _fan_out)
