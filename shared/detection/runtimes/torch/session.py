"""The torch runtime's session: the part of onnxruntime's ``InferenceSession`` API that
:class:`~shared.detection.inprocess.InProcessDetector` uses, over a :class:`.graph.Graph`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch
from onnx import helper

from shared.detection.runtimes.torch.graph import Graph
from shared.errors import ModelError

log = logging.getLogger(__name__)


def pick_device(name: str) -> str:
    """``auto``: CUDA when PyTorch sees a GPU, else the CPU."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"CAMWATCH_TORCH_DEVICE={name}, but PyTorch sees no CUDA device")
    return name


@dataclass(frozen=True)
class NodeArg:
    """Like onnxruntime's ``NodeArg``: a name, a shape (ints or names) and a type string."""

    name: str
    shape: list[int | str]
    type: str


@dataclass(frozen=True)
class ModelMeta:
    """Like onnxruntime's ``ModelMetadata``: the graph's metadata properties."""

    custom_metadata_map: dict[str, str]


def _value_info(value: Any) -> NodeArg:
    kind = value.type.tensor_type
    shape: list[int | str] = [
        d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in kind.shape.dim
    ]
    name = helper.tensor_dtype_to_np_dtype(kind.elem_type).name
    return NodeArg(value.name, shape, f"tensor({'float' if name == 'float32' else name})")


class TorchSession:
    """An ONNX graph on PyTorch, answering ``run``/``get_inputs``/``get_outputs`` as onnxruntime.

    ``run`` is thread-safe (no state is written while running), so several batcher workers
    can share one session and overlap one batch's CPU work with another's GPU work.
    """

    def __init__(
        self,
        path: Path,
        device: str = "auto",
        dtype: str = "float32",
        threads: int = 0,
        channels_last: bool | None = None,
    ) -> None:
        self.device_name = pick_device(device)
        cuda = self.device_name.startswith("cuda")
        if dtype != "float32" and not cuda:
            raise ModelError(f"CAMWATCH_TORCH_DTYPE={dtype} is for GPUs; the CPU runs float32")
        if threads:
            torch.set_num_threads(threads)
        try:
            model = onnx.load(str(path))
        except Exception as exc:
            raise ModelError(f"cannot read ONNX graph {path}: {exc}") from exc
        if cuda:
            torch.backends.cudnn.benchmark = True  # fastest kernels for each batch shape
        # Channels-last convolutions use the GPU's tensor cores best; the CPU keeps NCHW.
        self.graph = Graph(
            model, self.device_name, dtype, cuda if channels_last is None else channels_last
        )
        if len(self.graph.inputs) != 1:
            raise ModelError(
                f"{path.name}: want one input, found {[i.name for i in self.graph.inputs]}"
            )
        self._input = _value_info(self.graph.inputs[0])
        self._outputs = [_value_info(o) for o in model.graph.output]
        self._meta = ModelMeta({p.key: p.value for p in model.metadata_props})
        probe = self._probe(2 if self._input.shape[0] == 1 else 1)
        if self._input.shape[0] == 1:
            self.batch_note = self._try_batch_free(probe)
        else:
            self.batch_note = "declared" if isinstance(self._input.shape[0], int) else "free"
        # Output shapes as one run found them (exports often leave them unnamed).
        batch = self._input.shape[0]
        self._outputs = [
            NodeArg(o.name, [batch, *out.shape[1:]] if out.ndim else [], o.type)
            for o, out in zip(self._outputs, probe[0][1], strict=True)
        ]

    def _probe(self, count: int) -> list[tuple[npt.NDArray[Any], list[npt.NDArray[Any]]]]:
        """Run ``count`` single random inputs: (input, outputs) each."""
        size = self._meta.custom_metadata_map.get("imgsz", "[640, 640]")  # Ultralytics
        height, width = (int(v) for v in size.strip("[]()").split(",")[-2:])
        free = {2: height, 3: width} if self._input.shape[1] == 3 else {1: height, 2: width}
        shape = [
            d if isinstance(d, int) and d > 0 else free.get(i, 1)
            for i, d in enumerate(self._input.shape)
        ]
        shape[0] = self._input.shape[0] if isinstance(self._input.shape[0], int) else 1
        rng = np.random.default_rng(0)
        out = []
        for _ in range(count):
            if self._input.type == "tensor(uint8)":
                data: npt.NDArray[Any] = rng.integers(0, 256, shape, dtype=np.uint8)
            else:
                data = rng.standard_normal(shape).astype(np.float32)
            out.append((data, self.run(None, {self._input.name: data})))
        return out

    def _try_batch_free(
        self, singles: list[tuple[npt.NDArray[Any], list[npt.NDArray[Any]]]]
    ) -> str:
        """Check a batch of two against two single runs; keep batch one if they differ."""
        data = np.concatenate([x for x, _ in singles])
        self.graph.batch_free = True
        try:
            pair = self.run(None, {self._input.name: data})
            same = all(
                out.shape[0] == 2
                and all(
                    np.allclose(out[i : i + 1], singles[i][1][k], rtol=1e-3, atol=1e-4)
                    for i in range(2)
                )
                for k, out in enumerate(pair)
            )
            reason = "" if same else "a batch of two differs from two single runs"
        except ModelError as exc:
            same, reason = False, str(exc)
        if not same:
            self.graph.batch_free = False
            log.info("graph stays at batch one", extra={"reason": reason})
            return f"fixed at 1 ({reason})"
        self._input = NodeArg(self._input.name, ["batch", *self._input.shape[1:]], self._input.type)
        return "checked free (a batch of 2 = 2 single runs)"

    def get_inputs(self) -> list[NodeArg]:
        return [self._input]

    def get_outputs(self) -> list[NodeArg]:
        return self._outputs

    def get_modelmeta(self) -> ModelMeta:
        return self._meta

    def get_providers(self) -> list[str]:
        return [f"torch:{self.device_name}:{str(self.graph.dtype).removeprefix('torch.')}"]

    def run(self, output_names: Any, feeds: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
        """Run on numpy inputs, return numpy outputs (float32), like onnxruntime."""
        graph = self.graph
        with torch.inference_mode():
            tensors = {}
            for name, array in feeds.items():
                t = torch.from_numpy(np.ascontiguousarray(array))
                if graph.device.type == "cuda":
                    t = t.pin_memory().to(graph.device, non_blocking=True)
                tensors[name] = graph.on_device(t) if t.is_floating_point() else t
            outs = graph.run(tensors)
            return [
                o.float().cpu().numpy() if o.is_floating_point() else o.cpu().numpy() for o in outs
            ]
