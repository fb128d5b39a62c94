"""The operator table: ONNX operator name -> its PyTorch implementation.

Element-wise arithmetic, activations and ``Cast`` are here; the others come from
:mod:`.ops_nn`, :mod:`.ops_shape` and :mod:`.nms`. A graph that uses an operator missing from
:data:`OPS` fails at load (see :class:`.graph.Graph`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as nnf

from shared.detection.runtimes.torch.nms import NMS_OPS
from shared.detection.runtimes.torch.ops_nn import NN_OPS
from shared.detection.runtimes.torch.ops_shape import SHAPE_OPS
from shared.detection.runtimes.torch.tensors import (
    TORCH_DTYPES,
    Attrs,
    OpContext,
    OpFn,
    Tensor,
    align,
    scalar,
)

# Inputs that are operator parameters (read with .tolist()): kept on the CPU.
PARAM_INPUTS: dict[str, set[int]] = {
    "Reshape": {1},
    "Resize": {1, 2, 3},
    "Split": {1},
    "Slice": {1, 2, 3, 4},
    "Squeeze": {1},
    "Unsqueeze": {1},
    "Pad": {1, 2, 3},
    "Expand": {1},
    "Tile": {1},
    "Clip": {1, 2},
    "ConstantOfShape": {0},
    "Range": {0, 1, 2},
    "ReduceMean": {1},
    "ReduceSum": {1},
    "ReduceMax": {1},
    "ReduceMin": {1},
    "TopK": {1},
    "NonMaxSuppression": {2, 3, 4},
}


def _binary(fn: Callable[[Tensor, Tensor], Tensor]) -> OpFn:
    def op(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
        left, right = align(x[0], x[1])
        return fn(left, right)

    return op


def _variadic(fn: Callable[[Tensor, Tensor], Tensor]) -> OpFn:
    def op(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
        args = align(*x)
        out = args[0]
        for t in args[1:]:
            out = fn(out, t)
        return out

    return op


def _unary(fn: Callable[[Tensor], Tensor]) -> OpFn:
    return lambda x, a, g: fn(x[0])


def _div(left: Tensor, right: Tensor) -> Tensor:
    if left.is_floating_point() or right.is_floating_point():
        return left / right
    return torch.div(left, right, rounding_mode="trunc")  # ONNX integer Div truncates


def _cast(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    dtype = TORCH_DTYPES[int(a["to"])]
    if dtype.is_floating_point and x[0].is_floating_point():
        return x[0]  # keep the runtime's float precision (float16 on the GPU, say)
    return x[0].to(dtype)


def _clip(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    low, high = a.get("min"), a.get("max")  # opset 6 attributes; inputs since opset 11
    return torch.clamp(
        x[0],
        scalar(x, 1, None if low is None else float(low)),
        scalar(x, 2, None if high is None else float(high)),
    )


ELEMENTWISE_OPS: dict[str, OpFn] = {
    "Relu": _unary(nnf.relu),
    "LeakyRelu": lambda x, a, g: nnf.leaky_relu(x[0], float(a.get("alpha", 0.01))),
    "Sigmoid": _unary(torch.sigmoid),
    "HardSigmoid": lambda x, a, g: torch.clamp(
        x[0] * float(a.get("alpha", 0.2)) + float(a.get("beta", 0.5)), 0, 1
    ),
    "HardSwish": _unary(nnf.hardswish),
    "Tanh": _unary(torch.tanh),
    "Exp": _unary(torch.exp),
    "Log": _unary(torch.log),
    "Sqrt": _unary(torch.sqrt),
    "Neg": _unary(torch.neg),
    "Abs": _unary(torch.abs),
    "Erf": _unary(torch.erf),
    "Floor": _unary(torch.floor),
    "Ceil": _unary(torch.ceil),
    "Identity": lambda x, a, g: x[0],
    "Clip": _clip,
    "Softmax": lambda x, a, g: torch.softmax(x[0], dim=int(a.get("axis", -1))),
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _binary(_div),
    "Pow": _binary(torch.pow),
    "Equal": _binary(torch.eq),
    "Greater": _binary(torch.gt),
    "Less": _binary(torch.lt),
    "Min": _variadic(torch.minimum),
    "Max": _variadic(torch.maximum),
    "Sum": _variadic(torch.add),
    "Where": lambda x, a, g: torch.where(*align(x[0], x[1], x[2])),
    "MatMul": _binary(torch.matmul),
    "Cast": _cast,
}

OPS: dict[str, OpFn] = {**ELEMENTWISE_OPS, **NN_OPS, **SHAPE_OPS, **NMS_OPS}
