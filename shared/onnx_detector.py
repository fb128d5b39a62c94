"""In-process detector adapter: the SSD MobileNet v2 ONNX graph on onnxruntime.

The session is created on first use (never at import) and reused by every thread of a
warm instance; ``InferenceSession.run`` is thread-safe.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from shared.detections import Detections
from shared.detector import ModelInfo, load_labels, sha256_file
from shared.errors import ModelError

SSD_OUTPUTS = 4  # boxes, classes, scores, count


class OnnxSsdDetector:
    """TF-style post-processed SSD (boxes/classes/scores/count) on onnxruntime (CPU)."""

    def __init__(
        self, model_path: Path, labels_path: Path, version: str, intra_op_threads: int = 0
    ) -> None:
        self._model_path = model_path
        self._labels_path = labels_path
        self._version = version
        self._threads = intra_op_threads
        self._lock = threading.Lock()
        self._session: ort.InferenceSession | None = None
        self._model: ModelInfo | None = None

    def load(self) -> ort.InferenceSession:
        """Create the session once; check the graph has the SSD layout."""
        if self._session is not None:
            return self._session
        with self._lock:
            if self._session is None:
                if not self._model_path.is_file():
                    raise ModelError(f"model file not found: {self._model_path}")
                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                try:
                    session = ort.InferenceSession(
                        str(self._model_path), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as exc:  # onnxruntime raises its own untyped errors
                    raise ModelError(f"cannot load {self._model_path}: {exc}") from exc
                self._check_layout(session)
                self._labels = load_labels(self._labels_path)
                self._input = session.get_inputs()[0]
                self._size = (int(self._input.shape[2]), int(self._input.shape[1]))
                self._model = ModelInfo(
                    self._model_path.stem, self._version, sha256_file(self._model_path)
                )
                self._session = session
        return self._session

    def _check_layout(self, session: ort.InferenceSession) -> None:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else None
        if (
            shape is None
            or len(shape) != 4
            or shape[3] != 3
            or not all(isinstance(d, int) for d in shape[1:3])
            or inputs[0].type != "tensor(uint8)"
            or len(outputs) != SSD_OUTPUTS
        ):
            raise ModelError(
                f"{self._model_path.name} is not an SSD graph: expected one uint8 NHWC input "
                f"with 3 channels and {SSD_OUTPUTS} outputs (boxes, classes, scores, count), "
                f"got inputs {[(i.name, i.shape, i.type) for i in inputs]} and "
                f"{len(outputs)} outputs"
            )

    @property
    def model(self) -> ModelInfo:
        """The loaded model's name, version and sha256 (loads it if needed)."""
        self.load()
        assert self._model is not None
        return self._model

    def preprocess(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """BGR image -> ``[1, H, W, 3]`` uint8 RGB, resized with INTER_AREA."""
        self.load()
        resized = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        return rgb[np.newaxis].astype(np.uint8, copy=False)

    def detect(self, image: npt.NDArray[np.uint8]) -> Detections:
        """Run the model on one BGR image; boxes come back in the image's pixels."""
        session = self.load()
        boxes, classes, scores, count = session.run(
            None, {self._input.name: self.preprocess(image)}
        )
        height, width = image.shape[:2]
        return Detections.from_ssd(boxes, classes, scores, count, (width, height), self._labels)
