"""HTTP function: the inference service (Vertex AI custom-container prediction protocol).

``POST /predict`` with ``{"instances": [{"b64": ...}]}``; ``GET /health`` turns 200 once the
model is loaded and warmed up. All logic lives in ``shared``.
"""

import flask
import functions_framework

from shared.entrypoints.inference import handle


@functions_framework.http
def inference(request: flask.Request) -> flask.Response:
    """Detect objects in the request's images, batched with concurrent requests."""
    return handle(request)
