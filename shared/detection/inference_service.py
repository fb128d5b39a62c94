"""The inference service: the Vertex AI custom-container prediction protocol over a batcher.

``POST {AIP_PREDICT_ROUTE}`` takes ``{"instances": [{"b64": "<JPEG or PNG>"}, ...]}`` and
answers ``{"predictions": [{"detections": [...], "width": W, "height": H, "model": {...}}]}``.
``GET {AIP_HEALTH_ROUTE}`` answers 200 only once the model is loaded and
warmed up; the first call starts that in the background (never at import). The same image
serves Cloud Run (with a GPU) and a Vertex AI endpoint.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.detection.batching import Batcher
from shared.detection.inprocess import InProcessDetector
from shared.domain.detections import Detections
from shared.domain.frames import FramePolicy, RawFrame
from shared.errors import BadRequestError, FrameError, NotReadyError
from shared.settings import Settings

log = logging.getLogger(__name__)
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Prediction:
    """What the model found in one image of a request."""

    detections: Detections
    width: int
    height: int
    model: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        """One item of ``predictions``; the model goes in each, as Vertex AI passes on only
        ``predictions``."""
        return {
            "detections": self.detections.to_records(),
            "width": self.width,
            "height": self.height,
            "model": self.model,
        }


class InferenceService:
    """Loads the model (one detector per worker when the graph has a fixed batch of one)."""

    def __init__(self, settings: Settings, make_detector: Callable[[], InProcessDetector]) -> None:
        self._settings = settings
        # Images from callers: the frame limits without a minimum side (callers may send crops).
        self._frames = FramePolicy(
            settings.max_frame_bytes,
            settings.max_frame_pixels,
            max_concurrent=settings.max_concurrent_decodes,
        )
        self._make = make_detector
        self._lock = threading.Lock()
        self._started = False
        self._ready = threading.Event()
        self._error: str | None = None
        # Request threads decode, prepare and finish; the batch workers only run the model.
        self.batcher: Batcher[npt.NDArray[Any], list[npt.NDArray[Any]]] | None = None
        self.detector: InProcessDetector | None = None
        self.model: dict[str, str] = {}
        self.mode = ""

    def start(self) -> None:
        """Load and warm up in the background (idempotent)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._warm_up, name="warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        s = self._settings
        try:
            started = time.perf_counter()
            first = self._make()
            first.load()
            sig = first.signature
            if sig.fixed_batch == 1 or not s.batching:
                # A graph with a fixed batch of one (or batching off): parallel sessions.
                detectors = [first, *(self._make() for _ in range(s.inference_workers - 1))]
                max_batch = 1
            else:
                # One session shared by the workers (its run is thread-safe): one batch's
                # preprocessing and decoding overlap another's model run.
                detectors, max_batch = [first] * s.inference_workers, s.max_batch_size
            blank = np.zeros((sig.spec.height, sig.spec.width, 3), np.uint8)
            for detector in dict.fromkeys(detectors):
                # Every batch size once (a GPU picks its kernels per shape), the largest twice.
                for size in [*range(1, max_batch + 1), max_batch]:
                    detector.detect_batch([blank] * size)
            self.batcher = Batcher(
                [d.infer for d in detectors], max_batch, s.max_wait_ms, s.max_queue
            )
            self.detector = first
            self.model = first.model.as_dict()
            self.mode = f"{first.runtime}, {len(detectors)} worker(s), batches of up to {max_batch}"
            self._ready.set()
            log.info(
                "inference ready",
                extra={
                    "model": self.model,
                    "mode": self.mode,
                    "warm_up_s": round(time.perf_counter() - started, 2),
                },
            )
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            log.exception("inference failed to load its model")

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Ready (model loaded and warmed up) or not, with what it knows."""
        self.start()
        if self._ready.is_set():
            assert self.batcher is not None
            stats = self.batcher.stats
            return True, {
                "ready": True,
                "model": self.model,
                "mode": self.mode,
                "queue": self.batcher.depth(),
                "batches": stats.batches,
                "images": stats.items,
                "refused": stats.refused,
                "expired": stats.expired,
            }
        return False, {"ready": False, "error": self._error or "loading"}

    def predict(self, body: Any) -> list[Prediction]:
        """Answer one Vertex-style prediction request: one prediction per instance.

        Raises:
            BadRequestError: no ``instances``, too many, or an instance that is not an image.
            NotReadyError: still loading.
            OverloadedError: the queue is full.
            QueueTimeoutError: no result within the deadline.
        """
        instances = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(instances, list) or not instances:
            raise BadRequestError('want {"instances": [{"b64": "<image bytes, base64>"}, ...]}')
        if len(instances) > self._settings.max_images_per_request:
            raise BadRequestError(
                f"{len(instances)} instances, at most "
                f"{self._settings.max_images_per_request} per request"
            )
        images = [self._image(i, instance) for i, instance in enumerate(instances)]
        ok, _ = self.health()
        if not ok:
            raise NotReadyError(f"model not ready: {self._error or 'loading'}")
        assert self.batcher is not None
        assert self.detector is not None
        prepared = [self.detector.prepare(image) for image in images]
        outputs = self.batcher.run([p.tensor for p in prepared], self._settings.inference_timeout_s)
        found = [
            self.detector.finish(out, p.transform) for out, p in zip(outputs, prepared, strict=True)
        ]
        return [
            Prediction(d, int(img.shape[1]), int(img.shape[0]), self.model)
            for d, img in zip(found, images, strict=True)
        ]

    def _image(self, index: int, instance: Any) -> Image:
        data = instance.get("b64") if isinstance(instance, dict) else None
        if not isinstance(data, str):
            raise BadRequestError(f'instances[{index}]: want {{"b64": "<image bytes, base64>"}}')
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequestError(f"instances[{index}]: not base64: {exc}") from exc
        try:
            frame = self._frames.decode(RawFrame("request", data=raw))
        except FrameError as exc:
            raise BadRequestError(f"instances[{index}]: {exc.message}") from exc
        return frame.image
