"""In-process detector adapter: an ONNX graph of a known layout, on onnxruntime or PyTorch.

The layout (``ssd``, ``nanodet``, ``ultralytics``; see :mod:`shared.detection.layouts`) is
configured or read from the graph: its metadata (Ultralytics exports carry ``names`` and
``imgsz``) and its input and output signature. A graph that matches no layout, or not the
configured one, fails at load time with the shapes it has. The session is created on first use
(never at import) and shared by every thread of a warm instance; ``InferenceSession.run`` is
thread-safe.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.detection.layouts import Layout, Raw
from shared.detection.layouts.labels import COCO80
from shared.detection.layouts.nanodet import decode_nanodet
from shared.detection.layouts.preprocess import InputSpec, Transform, input_spec, preprocess
from shared.detection.layouts.ssd import decode_ssd
from shared.detection.layouts.ultralytics import decode_ultralytics
from shared.detection.model_store import load_labels, sha256_file
from shared.detection.runtimes import GraphSession, open_session
from shared.domain.detections import Detections, ModelInfo
from shared.errors import ModelError
from shared.settings import ASSETS

SSD_LABELS = ASSETS / "models" / "ssd_coco_labels.txt"


@dataclass(frozen=True)
class Prepared:
    """An image made ready for the model: its input tensor and the way back to its pixels."""

    tensor: npt.NDArray[Any]
    transform: Transform


@dataclass(frozen=True)
class Signature:
    """What load-time inspection found: the layout, its input spec, labels, batch size."""

    layout: Layout
    spec: InputSpec
    labels: npt.NDArray[np.object_]
    fixed_batch: int | None  # 1 for graphs with a fixed batch of one


def _labels_array(names: list[str]) -> npt.NDArray[np.object_]:
    return np.array(names, dtype=object)


def inspect(
    session: GraphSession, configured: str, labels_path: Path | None, name: str
) -> Signature:
    """Match the graph to a layout (configured, or ``auto``) or raise :class:`ModelError`."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    meta = session.get_modelmeta().custom_metadata_map
    found = f"inputs {[(i.name, i.shape, i.type) for i in inputs]}, outputs " + str(
        [(o.name, o.shape) for o in outputs]
    )
    shape = list(inputs[0].shape) if len(inputs) == 1 else []
    if len(shape) != 4 or 3 not in (shape[1], shape[3]):
        raise ModelError(f"{name}: expected one image input [B,H,W,3] or [B,3,H,W]; {found}")
    nchw = shape[1] == 3
    height, width = (shape[2], shape[3]) if nchw else (shape[1], shape[2])
    if not (isinstance(height, int) and isinstance(width, int)):
        size = ast.literal_eval(meta["imgsz"]) if "imgsz" in meta else [640, 640]
        height, width = int(size[0]), int(size[-1])
    uint8 = inputs[0].type == "tensor(uint8)"
    ranks = [len(o.shape) for o in outputs]
    candidates = {
        Layout.SSD: uint8 and not nchw and len(outputs) == 4,
        Layout.NANODET: not uint8
        and nchw
        and len(outputs) >= 2
        and len(outputs) % 2 == 0
        and all(r == 3 for r in ranks),
        Layout.ULTRALYTICS: not uint8 and nchw and len(outputs) == 1 and ranks == [3],
    }
    if configured == "auto":
        matching = [layout for layout, ok in candidates.items() if ok]
        if len(matching) != 1:
            raise ModelError(
                f"{name}: cannot tell its layout (matches {matching or 'none'} "
                f"of {[str(x) for x in Layout]}); set CAMWATCH_MODEL_LAYOUT; "
                f"{found}"
            )
        layout = matching[0]
    else:
        layout = Layout(configured)
        if not candidates[layout]:
            raise ModelError(f"{name} does not have the {layout} layout; {found}")
    spec = input_spec(layout, width, height)
    if labels_path is not None:
        labels = load_labels(labels_path)
    elif layout is Layout.SSD:
        labels = load_labels(SSD_LABELS)
    elif "names" in meta:
        names = ast.literal_eval(meta["names"])
        labels = _labels_array([names[i] for i in sorted(names)])
    else:
        labels = _labels_array(COCO80)
    if layout is Layout.ULTRALYTICS:
        channels = outputs[0].shape[1]
        if isinstance(channels, int) and channels != 4 + len(labels):
            raise ModelError(
                f"{name}: output has {channels} rows, want 4 + {len(labels)} classes; {found}"
            )
    if layout is Layout.NANODET:
        widths = {o.shape[-1] for o in outputs}
        if len(labels) not in widths or len(widths) != 2 or (widths - {len(labels)}).pop() % 4:
            raise ModelError(
                f"{name}: nanodet outputs want {len(labels)} class scores and "
                f"4 x bins of regression per anchor; {found}"
            )
    batch = shape[0] if isinstance(shape[0], int) else None
    return Signature(layout, spec, labels, batch)


class InProcessDetector:
    """Any supported layout, on onnxruntime (CUDA/TensorRT when installed, else CPU) or on
    PyTorch (``runtime="torch"``: CUDA when PyTorch sees a GPU)."""

    def __init__(
        self,
        model_path: Path,
        labels_path: Path | None,
        version: str,
        intra_op_threads: int = 0,
        layout: str = "auto",
        min_score: float = 0.25,
        iou: float = 0.45,
        max_detections: int = 300,
        fetch: Callable[[], Path] | None = None,
        expect_sha256: str | None = None,
        runtime: str = "onnxruntime",
        torch_device: str = "auto",
        torch_dtype: str = "float32",
    ) -> None:
        self._model_path = model_path
        self._fetch, self._expect = fetch, expect_sha256
        self._labels_path = labels_path
        self._version = version
        self._threads = intra_op_threads
        self._layout = layout
        self._min_score, self._iou, self._max = min_score, iou, max_detections
        self._runtime, self._device, self._dtype = runtime, torch_device, torch_dtype
        self._lock = threading.Lock()
        self._session: GraphSession | None = None
        self._model: ModelInfo | None = None

    def load(self) -> GraphSession:
        """Create the session once and check the graph's layout."""
        if self._session is not None:
            return self._session
        with self._lock:
            if self._session is None:
                if self._fetch is not None:  # a gs:// model: fetched on first use
                    self._model_path = self._fetch()
                if not self._model_path.is_file():
                    raise ModelError(f"model file not found: {self._model_path}")
                session = open_session(
                    self._model_path, self._runtime, self._threads, self._device, self._dtype
                )
                self.signature = inspect(
                    session, self._layout, self._labels_path, self._model_path.name
                )
                self._input = session.get_inputs()[0].name
                digest = sha256_file(self._model_path)
                if self._expect and digest != self._expect:
                    raise ModelError(
                        f"{self._model_path.name} has sha256 {digest}, "
                        f"want CAMWATCH_MODEL_SHA256={self._expect}"
                    )
                self._model = ModelInfo(self._model_path.stem, self._version, digest)
                self._session = session
        return self._session

    @property
    def runtime(self) -> str:
        """Where the graph runs, e.g. ``CPUExecutionProvider`` or ``torch:cuda:float16``."""
        return self.load().get_providers()[0]

    @property
    def model(self) -> ModelInfo:
        """The loaded model's name, version and sha256 (loads it if needed)."""
        self.load()
        assert self._model is not None
        return self._model

    def preprocess(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        """One BGR image -> the model's input tensor (batch of one)."""
        return self.prepare(image).tensor

    def prepare(self, image: npt.NDArray[np.uint8]) -> Prepared:
        """One BGR image -> its input tensor (batch of one) and the transform back.

        With :meth:`infer` and :meth:`finish`, the steps of :meth:`detect_batch` apart: the
        inference service prepares and finishes in each request's thread, so its batch
        workers only stack tensors and run the model.
        """
        self.load()
        tensor, transforms = preprocess([image], self.signature.spec)
        return Prepared(tensor, transforms[0])

    def infer(self, tensors: list[npt.NDArray[Any]]) -> list[list[npt.NDArray[Any]]]:
        """Run prepared tensors (one run when the graph takes a batch); each image's outputs."""
        return self._run(tensors[0] if len(tensors) == 1 else np.concatenate(tensors))

    def _run(self, batch: npt.NDArray[Any]) -> list[list[npt.NDArray[Any]]]:
        session = self.load()
        if self.signature.fixed_batch == 1 and len(batch) > 1:  # once per image
            return [session.run(None, {self._input: batch[i : i + 1]}) for i in range(len(batch))]
        outputs = session.run(None, {self._input: batch})
        return [[out[b : b + 1] for out in outputs] for b in range(len(batch))]

    def finish(self, outputs: list[npt.NDArray[Any]], transform: Transform) -> Detections:
        """One image's outputs -> detections in its own pixels."""
        xyxy, scores, ids = self._decode(outputs, 0)
        return Detections.from_raw(transform.to_original(xyxy), scores, ids, self.signature.labels)

    def detect(self, image: npt.NDArray[np.uint8], encoded: bytes | None = None) -> Detections:
        """Run the model on one BGR image; boxes come back in the image's pixels."""
        return self.detect_batch([image])[0]

    def detect_many(
        self, images: list[npt.NDArray[np.uint8]], encoded: list[bytes | None] | None = None
    ) -> list[Detections]:
        """Several images in one batch run (the encoded bytes are not needed here)."""
        return self.detect_batch(images)

    def detect_batch(self, images: list[npt.NDArray[np.uint8]]) -> list[Detections]:
        """Run the model on several images; one run when the graph takes a batch."""
        self.load()
        tensor, transforms = preprocess(images, self.signature.spec)  # the batch in one pass
        outputs = self._run(tensor)
        return [self.finish(out, t) for out, t in zip(outputs, transforms, strict=True)]

    def _decode(self, outputs: list[npt.NDArray[Any]], b: int) -> Raw:
        sig = self.signature
        if sig.layout is Layout.SSD:
            return decode_ssd(outputs, b, sig.spec)
        if sig.layout is Layout.NANODET:
            return decode_nanodet(
                outputs, b, sig.spec, self._min_score, self._iou, self._max, len(sig.labels)
            )
        return decode_ultralytics(outputs, b, self._min_score, self._iou, self._max)
