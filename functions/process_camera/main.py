"""HTTP function: ``POST /process/camera/{id}`` processes a camera now.

Also ``GET /health``, ``GET /status`` and ``GET /metrics``. All logic lives in ``shared``.
"""

import flask
import functions_framework

from shared.entrypoints.process_camera import handle_request


@functions_framework.http
def process_camera(request: flask.Request) -> flask.Response:
    """Route the request to the camera service and answer JSON."""
    return handle_request(request)
