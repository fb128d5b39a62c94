"""Neural-network operators: convolution, pooling, padding, ``Resize``, ``Gemm``, reductions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as nnf

from shared.detection.runtimes.torch.tensors import (
    Attrs,
    OpContext,
    OpFn,
    Tensor,
    floats,
    given,
    ints,
    scalar,
)
from shared.errors import ModelError


def _pads_2d(pads: list[int]) -> tuple[list[int], list[int]]:
    """ONNX ``[x1_begin, x2_begin, x1_end, x2_end]`` -> (begins, ends)."""
    half = len(pads) // 2
    return pads[:half], pads[half:]


def _auto_pads(
    a: Attrs,
    size: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> list[int]:
    mode = a.get("auto_pad", b"NOTSET")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode in ("NOTSET", ""):
        return list(a.get("pads", [0] * 2 * len(kernel)))
    if mode == "VALID":
        return [0] * 2 * len(kernel)
    begins, ends = [], []
    for n, k, s, d in zip(size, kernel, strides, dilations, strict=True):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small = total // 2
        begins.append(small if mode == "SAME_UPPER" else total - small)
        ends.append(total - begins[-1])
    return begins + ends


def _torch_pads(begins: list[int], ends: list[int]) -> list[int]:
    """ONNX begins and ends per axis -> torch's (begin, end) pairs, last axis first."""
    return [p for b, e in zip(reversed(begins), reversed(ends), strict=True) for p in (b, e)]


def _pad_input(x: Tensor, pads: list[int], value: float) -> tuple[Tensor, list[int]]:
    """Symmetric pads go to the operator; anything else is padded here first."""
    begins, ends = _pads_2d(pads)
    if begins == ends:
        return x, begins
    return nnf.pad(x, _torch_pads(begins, ends), value=value), [0] * len(begins)


def _conv(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    data, weight = x[0], x[1]
    bias = x[2] if len(x) > 2 else None
    if weight.dtype != data.dtype:  # weights folded from a float32 subgraph
        weight = weight.to(data.dtype)
        bias = None if bias is None else bias.to(data.dtype)
    kernel = list(weight.shape[2:])
    dims = len(kernel)
    strides = list(a.get("strides", [1] * dims))
    dilations = list(a.get("dilations", [1] * dims))
    pads = _auto_pads(a, data.shape[2:], kernel, strides, dilations)
    data, padding = _pad_input(data, pads, 0.0)
    conv = {1: nnf.conv1d, 2: nnf.conv2d, 3: nnf.conv3d}[dims]
    return conv(data, weight, bias, strides, padding, dilations, int(a.get("group", 1)))


def _pool(kind: str) -> OpFn:
    def op(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
        data = x[0]
        kernel = list(a["kernel_shape"])
        dims = len(kernel)
        strides = list(a.get("strides", [1] * dims))
        dilations = list(a.get("dilations", [1] * dims))
        pads = _auto_pads(a, data.shape[2:], kernel, strides, dilations)
        ceil = bool(a.get("ceil_mode", 0))
        if kind == "max":
            data, padding = _pad_input(data, pads, -math.inf)
            pool: Any = {1: nnf.max_pool1d, 2: nnf.max_pool2d, 3: nnf.max_pool3d}[dims]
            return pool(data, kernel, strides, padding, dilations, ceil_mode=ceil)
        include = bool(a.get("count_include_pad", 0))
        if not include and _pads_2d(pads)[0] != _pads_2d(pads)[1]:
            raise ModelError("AveragePool with uneven padding that excludes the pads")
        data, padding = _pad_input(data, pads, 0.0)
        avg: Any = {1: nnf.avg_pool1d, 2: nnf.avg_pool2d, 3: nnf.avg_pool3d}[dims]
        return avg(data, kernel, strides, padding, ceil, count_include_pad=include)

    return op


def _pad(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    data = x[0]
    pads = ints(x[1]) if len(x) > 1 else list(a["pads"])
    value = scalar(x, 2, 0.0)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    begins, ends = _pads_2d(pads)
    if len(x) > 3 and x[3] is not None:  # axes (opset 18)
        full_b, full_e = [0] * data.ndim, [0] * data.ndim
        for axis, b, e in zip(ints(x[3]), begins, ends, strict=True):
            full_b[axis], full_e[axis] = b, e
        begins, ends = full_b, full_e
    torch_pads = _torch_pads(begins, ends)
    while len(torch_pads) > 2 and torch_pads[-2:] == [0, 0]:
        torch_pads = torch_pads[:-2]  # torch pads only the trailing dims it is given
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
    if mode not in modes:
        raise ModelError(f"Pad mode {mode!r} is not supported")
    if mode == "constant":
        return nnf.pad(data, torch_pads, value=value)
    return nnf.pad(data, torch_pads, mode=modes[mode])


def _resize(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    data = x[0]
    mode = a.get("mode", b"nearest").decode()
    ctm = a.get("coordinate_transformation_mode", b"half_pixel").decode()
    sizes, scales = given(x, 3), given(x, 2)
    if sizes is not None:
        out = ints(sizes)[2:]
    elif scales is not None:
        out = [math.floor(n * s) for n, s in zip(data.shape[2:], floats(scales)[2:], strict=True)]
    else:
        raise ModelError("Resize without scales or sizes")
    if mode == "nearest":
        nearest = a.get("nearest_mode", b"round_prefer_floor").decode()
        if ctm == "asymmetric" and nearest == "floor":
            return nnf.interpolate(data, size=out, mode="nearest")
        if ctm in ("half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn") and nearest in (
            "round_prefer_ceil",
            "floor",
            "round_prefer_floor",
        ):
            return nnf.interpolate(data, size=out, mode="nearest-exact")
        raise ModelError(f"Resize nearest with {ctm}/{nearest} is not supported")
    if mode == "linear":
        linear = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(out)]
        if ctm in ("half_pixel", "pytorch_half_pixel"):
            return nnf.interpolate(data, size=out, mode=linear, align_corners=False)
        if ctm == "align_corners":
            return nnf.interpolate(data, size=out, mode=linear, align_corners=True)
    raise ModelError(f"Resize {mode} with {ctm} is not supported")


def _gemm(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    left = x[0].t() if a.get("transA", 0) else x[0]
    right = x[1].t() if a.get("transB", 0) else x[1]
    out = float(a.get("alpha", 1.0)) * (left @ right)
    if len(x) > 2 and x[2] is not None:
        out = out + float(a.get("beta", 1.0)) * x[2]
    return out


def _reduce(fn: str) -> OpFn:
    def op(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
        axes = ints(x[1]) if len(x) > 1 and x[1] is not None else a.get("axes")
        keep = bool(a.get("keepdims", 1))
        dims = tuple(range(x[0].ndim)) if not axes else tuple(int(i) for i in axes)
        if fn == "max":
            return torch.amax(x[0], dim=dims, keepdim=keep)
        if fn == "min":
            return torch.amin(x[0], dim=dims, keepdim=keep)
        return getattr(torch, fn)(x[0], dim=dims, keepdim=keep)

    return op


NN_OPS: dict[str, OpFn] = {
    "Conv": _conv,
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "GlobalAveragePool": lambda x, a, g: x[0].mean(dim=tuple(range(2, x[0].ndim)), keepdim=True),
    "GlobalMaxPool": lambda x, a, g: torch.amax(x[0], dim=tuple(range(2, x[0].ndim)), keepdim=True),
    "BatchNormalization": lambda x, a, g: nnf.batch_norm(
        x[0], x[3], x[4], x[1], x[2], False, 0.0, float(a.get("epsilon", 1e-5))
    ),
    "Pad": _pad,
    "Resize": _resize,
    "Gemm": _gemm,
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum"),
    "ReduceMax": _reduce("max"),
    "ReduceMin": _reduce("min"),
}
