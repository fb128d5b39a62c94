"""The inference function as deployed: functions-framework, the vendored SSD, a real picture.

``tests/unit/test_functions.py`` posts the canned request to a hand-built graph; here the
default model loads in the background on the first ``GET /health``, as on Cloud Run.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from shared.detection.model_store import sha256_file
from shared.entrypoints import inference
from shared.settings import Settings, get_settings
from tests.conftest import ROOT, canned, jpeg

pytestmark = pytest.mark.model
SOURCE = str(ROOT / "functions" / "inference" / "main.py")


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    """A fresh inference instance on the default settings (the vendored SSD int8)."""
    for name in list(os.environ):
        if name.startswith(("CAMWATCH_", "AIP_")):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    monkeypatch.setattr(inference, "_service", None)  # as a new instance starts
    yield create_app("inference", SOURCE, "http").test_client()
    service = inference._service
    if service is not None and service.batcher is not None:
        service.batcher.close()
    get_settings.cache_clear()


def test_the_vendored_ssd_finds_the_bus_after_warming_up(client: FlaskClient) -> None:
    deadline = time.monotonic() + 60
    while (health := client.get("/health")).status_code != 200:
        assert time.monotonic() < deadline, health.get_json()
        time.sleep(0.05)
    assert health.get_json()["model"]["sha256"] == sha256_file(Settings().model_path)
    request = canned("inference_request.json")  # the canned request, with a real picture
    picture = base64.b64encode(jpeg("pexels_double_decker_bus.jpg")).decode()
    request["json"]["instances"][0]["b64"] = picture
    response = client.open(request["path"], method=request["method"], json=request["json"])
    assert response.status_code == 200
    [prediction] = response.get_json()["predictions"]
    assert {"bus", "car"} <= {d["class_name"] for d in prediction["detections"]}
    assert (prediction["width"], prediction["height"]) == (546, 413)
