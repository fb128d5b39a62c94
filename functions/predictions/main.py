"""HTTP function: forecasts for integrators.

``GET /predictions/{camera_id}``, ``POST /predictions/bulk``, ``GET /health``, ``GET /status``
and ``GET /metrics``. All logic lives in ``shared``.
"""

import flask
import functions_framework

from shared.entrypoints.predictions import handle_request


@functions_framework.http
def predictions(request: flask.Request) -> flask.Response:
    """Route the request to the predictions service and answer JSON."""
    return handle_request(request)
