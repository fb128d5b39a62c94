"""Detector adapters that call the inference service: Cloud Run (HTTP) or a Vertex AI endpoint.

Both send the frame's own bytes (so the service decodes exactly what the camera sent), retry
429/503 and transport errors with exponential backoff (``Retry-After`` honoured), and share a
circuit breaker (:mod:`shared.detection.breaker`). A
service that stays down raises :class:`DependencyUnavailableError` ("inference"), so a camera job is
retried by Pub/Sub instead of lost and ``process_camera`` answers 503.
"""

from __future__ import annotations

import base64
import logging
import random
import time
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import requests

from shared.detection.breaker import CircuitBreaker
from shared.domain.detections import Detections, ModelInfo
from shared.errors import DependencyUnavailableError, ModelError

log = logging.getLogger(__name__)

RETRYABLE = {429, 502, 503, 504}
PROBE_SIDE = 64  # the Vertex probe frame: as large as any sane minimum camera frame side


def encode(image: npt.NDArray[np.uint8], encoded: bytes | None) -> str:
    """Base64 of the frame's own bytes, or of a lossless PNG when there are none (video)."""
    if not encoded:
        ok, png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise ModelError("cannot encode the frame for the inference service")
        encoded = png.tobytes()
    return base64.b64encode(encoded).decode()


class _Remote:
    """Retries, backoff and the breaker around one prediction call; subclasses send it."""

    def __init__(self, retries: int, breaker: CircuitBreaker, what: str) -> None:
        self._retries, self._breaker, self._what = retries, breaker, what
        self._model: ModelInfo | None = None

    @property
    def model(self) -> ModelInfo:
        """The model the service reported last (fetched on first use)."""
        if self._model is None:
            self._model = self._fetch_model()
        return self._model

    def _fetch_model(self) -> ModelInfo:
        raise NotImplementedError

    def _send(self, instances: list[dict[str, str]]) -> tuple[int, Any, float | None]:
        """One attempt: (status, predictions or error text, Retry-After seconds)."""
        raise NotImplementedError

    def detect(self, image: npt.NDArray[np.uint8], encoded: bytes | None = None) -> Detections:
        """Detections for one frame, from the service."""
        return self.detect_many([image], [encoded])[0]

    def detect_many(
        self, images: list[npt.NDArray[np.uint8]], encoded: list[bytes | None] | None = None
    ) -> list[Detections]:
        """Detections for several frames, in one request of several ``instances``."""
        blobs = encoded or [None] * len(images)
        instances = [{"b64": encode(im, b)} for im, b in zip(images, blobs, strict=True)]
        predictions = self._predict(instances)
        if len(predictions) != len(images):
            raise ModelError(f"{self._what} answered {len(predictions)} of {len(images)} frames")
        found = []
        for prediction in predictions:
            model = prediction.get("model")
            if model:
                self._model = ModelInfo(model["name"], model["version"], model["sha256"])
            found.append(Detections.from_records(prediction["detections"]))
        return found

    def _predict(self, instances: list[dict[str, str]]) -> list[dict[str, Any]]:
        self._breaker.check()
        last = ""
        for attempt in range(self._retries + 1):
            try:
                status, payload, retry_after = self._send(instances)
            except (requests.RequestException, OSError, ValueError, KeyError) as exc:
                # unreachable, timed out, or an answer that is not the protocol: try again
                status, payload, retry_after = 0, f"{type(exc).__name__}: {exc}", None
            if status == 200:
                self._breaker.record(True)
                return list(payload)
            last = f"{self._what} answered {status or 'nothing'}: {str(payload)[:200]}"
            if status and status not in RETRYABLE:
                self._breaker.record(False)
                raise ModelError(last)  # a request the service will never take
            if attempt < self._retries:
                log.info(
                    "inference try failed; trying again",
                    extra={"attempt": attempt + 1, "error": last[:300]},
                )
                pause = retry_after if retry_after is not None else 0.1 * 2**attempt
                time.sleep(min(pause, 5.0) * (0.5 + random.random() / 2))
        self._breaker.record(False)
        raise DependencyUnavailableError("inference", f"{last} (after {self._retries + 1} tries)")


class CloudRunDetector(_Remote):
    """The inference service on Cloud Run: HTTP, a Google ID token when ``auth``."""

    def __init__(
        self, url: str, timeout_s: float, retries: int, breaker: CircuitBreaker, auth: bool = True
    ) -> None:
        super().__init__(retries, breaker, "inference service")
        self._url = url.rstrip("/")
        self._timeout = timeout_s
        self._auth = auth
        self._session = requests.Session()
        self._token: tuple[str, float] | None = None

    def _headers(self) -> dict[str, str]:
        if not self._auth:
            return {}
        if self._token is None or self._token[1] < time.monotonic():
            import google.auth.transport.requests
            import google.oauth2.id_token
            from google.auth.exceptions import GoogleAuthError

            try:
                token = google.oauth2.id_token.fetch_id_token(  # type: ignore[no-untyped-call]
                    google.auth.transport.requests.Request(), self._url
                )
            except GoogleAuthError as exc:
                raise DependencyUnavailableError(
                    "inference", f"no ID token for {self._url}: {exc}"
                ) from exc
            self._token = (str(token), time.monotonic() + 45 * 60)  # tokens last an hour
        return {"Authorization": f"Bearer {self._token[0]}"}

    def _send(self, instances: list[dict[str, str]]) -> tuple[int, Any, float | None]:
        response = self._session.post(
            f"{self._url}/predict",
            json={"instances": instances},
            headers=self._headers(),
            timeout=self._timeout,
        )
        retry_after = response.headers.get("Retry-After")
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        if response.status_code == 200:
            return 200, response.json()["predictions"], None
        return response.status_code, response.text, wait

    def _health(self) -> requests.Response:
        try:
            return self._session.get(
                f"{self._url}/health", headers=self._headers(), timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise DependencyUnavailableError("inference", f"{type(exc).__name__}: {exc}") from exc

    def ping(self) -> None:
        """Raise :class:`DependencyUnavailableError` unless the service's health answers 200."""
        response = self._health()
        if response.status_code != 200:
            raise DependencyUnavailableError(
                "inference", f"health answered {response.status_code}: {response.text[:200]}"
            )

    def _fetch_model(self) -> ModelInfo:
        try:
            model = self._health().json()["model"]
        except (ValueError, KeyError) as exc:
            raise DependencyUnavailableError("inference", f"no model info: {exc}") from exc
        return ModelInfo(model["name"], model["version"], model["sha256"])


class VertexDetector(_Remote):
    """A Vertex AI endpoint serving the same container (google-cloud-aiplatform, REST)."""

    def __init__(
        self,
        endpoint: str,
        api_endpoint: str | None,
        timeout_s: float,
        retries: int,
        breaker: CircuitBreaker,
    ) -> None:
        super().__init__(retries, breaker, "Vertex AI endpoint")
        from google.api_core.client_options import ClientOptions
        from google.cloud.aiplatform_v1 import PredictionServiceClient
        from google.cloud.aiplatform_v1.services.prediction_service.transports.rest import (
            PredictionServiceRestTransport,
        )

        location = endpoint.split("/")[3] if endpoint.count("/") >= 5 else "us-central1"
        host = api_endpoint or f"{location}-aiplatform.googleapis.com"
        if host.startswith("http://"):  # a local server that speaks the REST protocol (tests)
            from google.auth.credentials import AnonymousCredentials

            transport = PredictionServiceRestTransport(
                host=host.removeprefix("http://"),
                url_scheme="http",
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            )
            self._client = PredictionServiceClient(transport=transport)
        else:
            self._client = PredictionServiceClient(
                transport="rest", client_options=ClientOptions(api_endpoint=host)
            )
        self._endpoint, self._timeout = endpoint, timeout_s

    def _send(self, instances: list[dict[str, str]]) -> tuple[int, Any, float | None]:
        from google.api_core import exceptions as gexc
        from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]

        values = [json_format.ParseDict(i, struct_pb2.Value()) for i in instances]
        try:
            response = self._client.predict(
                endpoint=self._endpoint, instances=values, timeout=self._timeout, retry=None
            )
        except gexc.GoogleAPICallError as exc:
            return int(exc.code or 503), exc.message, None
        return 200, type(response).to_dict(response)["predictions"], None

    def _fetch_model(self) -> ModelInfo:
        # Vertex has no health route for callers: a blank prediction reports the model. The
        # frame is over the smallest camera frame (CAMWATCH_MIN_FRAME_SIDE).
        blank = np.zeros((PROBE_SIDE, PROBE_SIDE, 3), np.uint8)
        self.detect(blank)
        assert self._model is not None
        return self._model
