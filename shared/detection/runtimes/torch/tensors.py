"""What the torch runtime's operator modules share: value types, input readers, dtypes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import onnx
import torch

Tensor = Any  # torch.Tensor (kept loose: torch is optional)
Attrs = dict[str, Any]


class OpContext(Protocol):
    """What an operator reads of the graph that runs it (:class:`.graph.Graph`)."""

    batch_free: bool  # a fixed-batch export's leading 1 in Reshape targets is the batch


OpFn = Callable[[list[Any], Attrs, OpContext], Any]

TORCH_DTYPES: dict[int, Any] = {
    onnx.TensorProto.FLOAT: torch.float32,
    onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.BFLOAT16: torch.bfloat16,
    onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.BOOL: torch.bool,
}
FLOAT_DTYPES: dict[str, Any] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def ints(value: Any) -> list[int]:
    """An operator parameter (a CPU tensor or a list) as Python ints."""
    return [int(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]


def floats(value: Any) -> list[float]:
    """An operator parameter (a CPU tensor) as Python floats."""
    return [float(v) for v in value.tolist()]


def given(x: list[Any], pos: int) -> Tensor | None:
    """Optional input ``pos``: None when left out (absent, unnamed or empty)."""
    value = x[pos] if len(x) > pos else None
    return value if value is not None and value.numel() else None


def scalar(x: list[Any], pos: int, default: float | None) -> float | None:
    """Optional scalar input ``pos`` as a float, or ``default``."""
    value = given(x, pos)
    return default if value is None else float(value.item())


def align(*tensors: Tensor) -> list[Tensor]:
    """Bring CPU-held constants to the device (and float dtype) of the largest operand."""
    ref = max(tensors, key=lambda t: t.numel())
    out = []
    for t in tensors:
        if t.device != ref.device:
            t = t.to(ref.device)
        if t.is_floating_point() and ref.is_floating_point() and t.dtype != ref.dtype:
            t = t.to(ref.dtype)
        out.append(t)
    return out
