"""The PyTorch runtime: an ONNX detector graph run by PyTorch, on CUDA when there is a GPU.

For GPU machines that have PyTorch with CUDA but not onnxruntime-gpu. A small pure-Python
converter reads the ONNX graph (the ``onnx`` package) and runs it node by node with
``torch.nn.functional``; :class:`TorchSession` answers the part of onnxruntime's
``InferenceSession`` API that
:class:`~shared.detection.inprocess.InProcessDetector` uses, so the same
preprocessing, decoders and dynamic batching drive either runtime (``CAMWATCH_RUNTIME``).

* Operators: those of convolutional detectors (convolution, pooling, activations, element-wise
  arithmetic, shape and layout operators, ``Resize``) and of TF-style SSD post-processing
  (``NonMaxSuppression``, ``TopK``, ``GatherND``). A graph with any other operator fails at
  load with the list of what is missing, never with garbage at run time.
* Constant subgraphs (tf2onnx exports compute resize scales and reshape targets) are folded
  once at load. Operator parameters (shapes, scales, pads) are read from CPU copies and
  integer constants stay on the CPU, so shape arithmetic never waits on the GPU.
* Batches: a graph exported with a fixed batch of one is tried with its leading ``1`` in
  ``Reshape`` targets read as the batch. A batch of two is checked against two single runs at
  load; only a graph that passes reports a free batch dimension (and so is batched by the
  service). Any other stays at batch one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.errors import ModelError

try:  # PyTorch is optional: only the torch runtime needs it
    import onnx
    import torch
    import torch.nn.functional as F  # noqa: N812 (the usual name)
    from onnx import helper, numpy_helper
except ImportError:  # pragma: no cover - reported when the runtime is asked for
    torch = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
Tensor = Any  # torch.Tensor (kept loose: torch is optional)
Attrs = dict[str, Any]
OpFn = Callable[[list[Any], Attrs, "Graph"], Any]
# Inputs that are operator parameters (read with .tolist()): kept on the CPU.
PARAM_INPUTS: dict[str, set[int]] = {
    "Reshape": {1}, "Resize": {1, 2, 3}, "Split": {1}, "Slice": {1, 2, 3, 4}, "Squeeze": {1},
    "Unsqueeze": {1}, "Pad": {1, 2, 3}, "Expand": {1}, "Tile": {1}, "Clip": {1, 2},
    "ConstantOfShape": {0}, "Range": {0, 1, 2}, "ReduceMean": {1}, "ReduceSum": {1},
    "ReduceMax": {1}, "ReduceMin": {1}, "TopK": {1}, "NonMaxSuppression": {2, 3, 4},
}  # fmt: skip


def pick_device(name: str) -> str:
    """``auto``: CUDA when PyTorch sees a GPU, else the CPU."""
    if torch is None:
        raise ModelError("CAMWATCH_RUNTIME=torch needs PyTorch and onnx (requirements-torch.txt)")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"CAMWATCH_TORCH_DEVICE={name}, but PyTorch sees no CUDA device")
    return name


# --- operators -------------------------------------------------------------------------------


def _ints(value: Any) -> list[int]:
    return [int(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]


def _floats(value: Any) -> list[float]:
    return [float(v) for v in value.tolist()]


def _given(x: list[Any], pos: int) -> Tensor | None:
    """Optional input ``pos``: None when left out (absent, unnamed or empty)."""
    value = x[pos] if len(x) > pos else None
    return value if value is not None and value.numel() else None


def _scalar(x: list[Any], pos: int, default: float | None) -> float | None:
    """Optional scalar input ``pos`` as a float, or ``default``."""
    value = _given(x, pos)
    return default if value is None else float(value.item())


def _align(*tensors: Tensor) -> list[Tensor]:
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


def _binary(fn: Callable[[Tensor, Tensor], Tensor]) -> OpFn:
    def op(x: list[Any], a: Attrs, g: Graph) -> Tensor:
        left, right = _align(x[0], x[1])
        return fn(left, right)

    return op


def _variadic(fn: Callable[[Tensor, Tensor], Tensor]) -> OpFn:
    def op(x: list[Any], a: Attrs, g: Graph) -> Tensor:
        args = _align(*x)
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


def _pads_2d(pads: list[int]) -> tuple[list[int], list[int]]:
    """ONNX ``[x1_begin, x2_begin, x1_end, x2_end]`` -> (begins, ends)."""
    half = len(pads) // 2
    return pads[:half], pads[half:]


def _auto_pads(a: Attrs, size: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
               dilations: Sequence[int]) -> list[int]:  # fmt: skip
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
    return F.pad(x, _torch_pads(begins, ends), value=value), [0] * len(begins)


def _conv(x: list[Any], a: Attrs, g: Graph) -> Tensor:
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
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    return conv(data, weight, bias, strides, padding, dilations, int(a.get("group", 1)))


def _pool(kind: str) -> OpFn:
    def op(x: list[Any], a: Attrs, g: Graph) -> Tensor:
        data = x[0]
        kernel = list(a["kernel_shape"])
        dims = len(kernel)
        strides = list(a.get("strides", [1] * dims))
        dilations = list(a.get("dilations", [1] * dims))
        pads = _auto_pads(a, data.shape[2:], kernel, strides, dilations)
        ceil = bool(a.get("ceil_mode", 0))
        if kind == "max":
            data, padding = _pad_input(data, pads, -math.inf)
            pool: Any = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[dims]
            return pool(data, kernel, strides, padding, dilations, ceil_mode=ceil)
        include = bool(a.get("count_include_pad", 0))
        if not include and _pads_2d(pads)[0] != _pads_2d(pads)[1]:
            raise ModelError("AveragePool with uneven padding that excludes the pads")
        data, padding = _pad_input(data, pads, 0.0)
        avg: Any = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[dims]
        return avg(data, kernel, strides, padding, ceil, count_include_pad=include)

    return op


def _reshape(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    data, target = x[0], _ints(x[1])
    if not a.get("allowzero", 0):
        target = [data.shape[i] if t == 0 else t for i, t in enumerate(target)]
    if g.batch_free and target and target[0] == 1 and data.ndim and data.shape[0] > 1:
        target[0] = data.shape[0]  # a fixed-batch export's leading 1 is the batch
    return data.reshape(target)


def _transpose(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    perm = a.get("perm") or list(reversed(range(x[0].ndim)))
    return x[0].permute(*perm)


def _concat(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    return torch.cat(_align(*[t for t in x if t.numel() or t.ndim > 1]), dim=int(a["axis"]))


def _split(x: list[Any], a: Attrs, g: Graph) -> list[Tensor]:
    axis = int(a.get("axis", 0))
    if len(x) > 1 and x[1] is not None:
        sizes = _ints(x[1])
    elif "split" in a:
        sizes = list(a["split"])
    else:
        n = int(a["num_outputs"])  # the attribute of opset 18, filled in at load before it
        sizes = [x[0].shape[axis] // n] * n
    return list(torch.split(x[0], sizes, dim=axis))


def _slice(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    data = x[0]
    starts, ends = _ints(x[1]), _ints(x[2])
    axes = _ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
    steps = _ints(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
    index: list[Any] = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        if step < 0:
            raise ModelError("Slice with a negative step is not supported")
        n = data.shape[axis]
        index[axis] = slice(max(-n, min(start, n)), max(-n, min(end, n)), step)
    return data[tuple(index)]


def _squeeze(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    axes = _ints(x[1]) if len(x) > 1 and x[1] is not None else a.get("axes")
    if axes is None:
        return x[0].squeeze()
    return x[0].squeeze(tuple(int(i) for i in axes))


def _unsqueeze(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    axes = _ints(x[1]) if len(x) > 1 else list(a["axes"])
    out = x[0]
    rank = out.ndim + len(axes)
    for axis in sorted(i % rank for i in axes):
        out = out.unsqueeze(axis)
    return out


def _pad(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    data = x[0]
    pads = _ints(x[1]) if len(x) > 1 else list(a["pads"])
    value = _scalar(x, 2, 0.0)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    begins, ends = _pads_2d(pads)
    if len(x) > 3 and x[3] is not None:  # axes (opset 18)
        full_b, full_e = [0] * data.ndim, [0] * data.ndim
        for axis, b, e in zip(_ints(x[3]), begins, ends, strict=True):
            full_b[axis], full_e[axis] = b, e
        begins, ends = full_b, full_e
    torch_pads = _torch_pads(begins, ends)
    while len(torch_pads) > 2 and torch_pads[-2:] == [0, 0]:
        torch_pads = torch_pads[:-2]  # torch pads only the trailing dims it is given
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
    if mode not in modes:
        raise ModelError(f"Pad mode {mode!r} is not supported")
    if mode == "constant":
        return F.pad(data, torch_pads, value=value)
    return F.pad(data, torch_pads, mode=modes[mode])


def _resize(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    data = x[0]
    mode = a.get("mode", b"nearest").decode()
    ctm = a.get("coordinate_transformation_mode", b"half_pixel").decode()
    sizes, scales = _given(x, 3), _given(x, 2)
    if sizes is not None:
        out = _ints(sizes)[2:]
    elif scales is not None:
        out = [int(math.floor(n * s)) for n, s in zip(data.shape[2:], _floats(scales)[2:],
                                                      strict=True)]  # fmt: skip
    else:
        raise ModelError("Resize without scales or sizes")
    if mode == "nearest":
        nearest = a.get("nearest_mode", b"round_prefer_floor").decode()
        if ctm == "asymmetric" and nearest == "floor":
            return F.interpolate(data, size=out, mode="nearest")
        if ctm in ("half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn") and nearest in (
            "round_prefer_ceil",
            "floor",
            "round_prefer_floor",
        ):
            return F.interpolate(data, size=out, mode="nearest-exact")
        raise ModelError(f"Resize nearest with {ctm}/{nearest} is not supported")
    if mode == "linear":
        linear = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(out)]
        if ctm in ("half_pixel", "pytorch_half_pixel"):
            return F.interpolate(data, size=out, mode=linear, align_corners=False)
        if ctm == "align_corners":
            return F.interpolate(data, size=out, mode=linear, align_corners=True)
    raise ModelError(f"Resize {mode} with {ctm} is not supported")


def _cast(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    dtype = TORCH_DTYPES[int(a["to"])]
    if dtype.is_floating_point and x[0].is_floating_point():
        return x[0]  # keep the runtime's float precision (float16 on the GPU, say)
    return x[0].to(dtype)


def _gather(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    data, index = x[0], x[1].to(x[0].device)
    axis = int(a.get("axis", 0)) % data.ndim
    index = torch.where(index < 0, index + data.shape[axis], index)
    out = torch.index_select(data, axis, index.reshape(-1))
    return out.reshape([*data.shape[:axis], *index.shape, *data.shape[axis + 1 :]])


def _expand(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    shape = _ints(x[1])
    data = x[0]
    rank = max(len(shape), data.ndim)
    data = data.reshape([1] * (rank - data.ndim) + list(data.shape))
    shape = [1] * (rank - len(shape)) + shape
    return data.expand([max(s, d) if d == 1 or s != 1 else d
                        for s, d in zip(shape, data.shape, strict=True)])  # fmt: skip


def _scatter_nd(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    data, indices, updates = x[0].clone(), x[1].to(x[0].device), x[2].to(x[0].device)
    k = indices.shape[-1]
    flat = indices.reshape(-1, k)
    values = updates.reshape(flat.shape[0], *data.shape[k:])
    data[tuple(flat[:, i] for i in range(k))] = values.to(data.dtype)
    return data


def _shape(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    shape = list(x[0].shape)
    start, end = int(a.get("start", 0)), a.get("end")
    return torch.tensor(shape[start : None if end is None else int(end)], dtype=torch.int64)


def _constant_of_shape(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    value = a.get("value")
    fill = torch.from_numpy(numpy_helper.to_array(value).copy()) if value is not None else \
        torch.zeros(1, dtype=torch.float32)  # fmt: skip
    return fill.reshape(()).expand(_ints(x[0])).clone()


def _clip(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    low, high = a.get("min"), a.get("max")  # opset 6 attributes; inputs since opset 11
    return torch.clamp(x[0], _scalar(x, 1, None if low is None else float(low)),
                       _scalar(x, 2, None if high is None else float(high)))  # fmt: skip


def _gemm(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    left = x[0].t() if a.get("transA", 0) else x[0]
    right = x[1].t() if a.get("transB", 0) else x[1]
    out = float(a.get("alpha", 1.0)) * (left @ right)
    if len(x) > 2 and x[2] is not None:
        out = out + float(a.get("beta", 1.0)) * x[2]
    return out


def _reduce(fn: str) -> OpFn:
    def op(x: list[Any], a: Attrs, g: Graph) -> Tensor:
        axes = _ints(x[1]) if len(x) > 1 and x[1] is not None else a.get("axes")
        keep = bool(a.get("keepdims", 1))
        dims = tuple(range(x[0].ndim)) if not axes else tuple(int(i) for i in axes)
        if fn == "max":
            return torch.amax(x[0], dim=dims, keepdim=keep)
        if fn == "min":
            return torch.amin(x[0], dim=dims, keepdim=keep)
        return getattr(torch, fn)(x[0], dim=dims, keepdim=keep)

    return op


def _constant(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    if "value" in a:
        return torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
    for key, dtype in (("value_float", torch.float32), ("value_floats", torch.float32),
                       ("value_int", torch.int64), ("value_ints", torch.int64)):  # fmt: skip
        if key in a:
            return torch.tensor(a[key], dtype=dtype)
    raise ModelError(f"Constant with {sorted(a)} is not supported")


def _nms(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    """ONNX ``NonMaxSuppression``, exactly: greedy per batch and class, by descending score
    (the lower index first on ties), suppressing IoU above the threshold, at most
    ``max_output_boxes_per_class`` each.

    Vectorised over (batch, class) rows: the greedy pass walks the top ``m`` candidates of
    every row at once. A row that has neither its quota nor its last candidate within ``m`` is
    done again with twice the ``m`` (greedy selection is a prefix: a longer walk only adds), so
    the result never depends on ``m``.
    """
    boxes, scores = x[0].float(), x[1].float()
    limit = int(_scalar(x, 2, 0) or 0)
    iou_max = _scalar(x, 3, 0.0) or 0.0
    floor = _scalar(x, 4, None)
    batches, classes, count = scores.shape
    if limit <= 0 or count == 0 or batches * classes == 0:
        return torch.zeros((0, 3), dtype=torch.int64)
    if a.get("center_point_box", 0):
        cx, cy, w, h = boxes.unbind(-1)
        corners = torch.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)
    else:
        ya, xa, yb, xb = boxes.unbind(-1)
        corners = torch.stack([torch.minimum(ya, yb), torch.minimum(xa, xb),
                               torch.maximum(ya, yb), torch.maximum(xa, xb)], -1)  # fmt: skip
    rows = scores.reshape(batches * classes, count)
    sorted_scores, order = torch.sort(rows, dim=-1, descending=True, stable=True)
    valid = sorted_scores > floor if floor is not None else torch.ones_like(rows, dtype=torch.bool)
    candidates = valid.sum(-1)
    batch_of = torch.arange(batches * classes, device=rows.device) // classes
    picked_rows, picked_ranks = [], []
    todo = torch.arange(batches * classes, device=rows.device)
    m = min(count, 64)
    while todo.numel():
        idx = order[todo, :m]  # [R, m] box indices, best first
        box = corners[batch_of[todo]].gather(1, idx.unsqueeze(-1).expand(-1, -1, 4))  # [R, m, 4]
        y1, x1, y2, x2 = box.unbind(-1)
        area = (y2 - y1) * (x2 - x1)
        inter = (torch.minimum(y2[:, :, None], y2[:, None, :]) -
                 torch.maximum(y1[:, :, None], y1[:, None, :])).clamp(min=0) * \
                (torch.minimum(x2[:, :, None], x2[:, None, :]) -
                 torch.maximum(x1[:, :, None], x1[:, None, :])).clamp(min=0)  # fmt: skip
        union = area[:, :, None] + area[:, None, :] - inter
        positive = (area[:, :, None] > 0) & (area[:, None, :] > 0)
        overlaps = positive & (union > 0) & (inter > iou_max * union)  # IoU above the threshold
        out = ~valid[todo, :m]
        keep = torch.zeros_like(out)
        kept = torch.zeros(todo.numel(), dtype=torch.int64, device=rows.device)
        for i in range(m):
            now = ~out[:, i] & (kept < limit)
            keep[:, i] = now
            kept += now
            out |= overlaps[:, i, :] & now[:, None]
            if i % 16 == 15 and bool((out[:, i + 1 :].all(-1) | (kept >= limit)).all()):
                break  # every row has its quota or nothing left to take
        done = (kept >= limit) | (candidates[todo] <= m) | (m == count)
        row, rank = keep[done].nonzero(as_tuple=True)
        picked_rows.append(todo[done][row])
        picked_ranks.append(rank)
        todo = todo[~done]
        m = min(count, m * 2)
    row, rank = torch.cat(picked_rows), torch.cat(picked_ranks)
    order_out = torch.argsort(row * count + rank)  # batch, class, then rank: ONNX's order
    row, rank = row[order_out], rank[order_out]
    return torch.stack([row // classes, row % classes, order[row, rank]], 1).to(torch.int64)


def _topk(x: list[Any], a: Attrs, g: Graph) -> list[Tensor]:
    """``TopK``, sorted, the lower index first among equal values (as onnxruntime)."""
    k, axis = int(_ints(x[1])[0]), int(a.get("axis", -1))
    values, indices = torch.sort(x[0], dim=axis, descending=bool(a.get("largest", 1)),
                                 stable=True)  # fmt: skip
    return [values.narrow(axis, 0, k), indices.narrow(axis, 0, k).to(torch.int64)]


def _gather_nd(x: list[Any], a: Attrs, g: Graph) -> Tensor:
    if a.get("batch_dims", 0):
        raise ModelError("GatherND with batch_dims is not supported")
    data, indices = x[0], x[1].to(x[0].device)
    k = indices.shape[-1]
    flat = indices.reshape(-1, k)
    out = data[tuple(flat[:, i] for i in range(k))]
    return out.reshape([*indices.shape[:-1], *data.shape[k:]])


OPS: dict[str, OpFn] = {
    "Conv": _conv,
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "GlobalAveragePool": lambda x, a, g: x[0].mean(dim=tuple(range(2, x[0].ndim)), keepdim=True),
    "GlobalMaxPool": lambda x, a, g: torch.amax(
        x[0], dim=tuple(range(2, x[0].ndim)), keepdim=True
    ),  # fmt: skip
    "BatchNormalization": lambda x, a, g: F.batch_norm(
        x[0], x[3], x[4], x[1], x[2], False, 0.0, float(a.get("epsilon", 1e-5))
    ),
    "Relu": _unary(F.relu),
    "LeakyRelu": lambda x, a, g: F.leaky_relu(x[0], float(a.get("alpha", 0.01))),
    "Sigmoid": _unary(torch.sigmoid),
    "HardSigmoid": lambda x, a, g: torch.clamp(
        x[0] * float(a.get("alpha", 0.2)) + float(a.get("beta", 0.5)), 0, 1
    ),
    "HardSwish": _unary(F.hardswish),
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
    "Where": lambda x, a, g: torch.where(*_align(x[0], x[1], x[2])),
    "MatMul": _binary(torch.matmul),
    "Gemm": _gemm,
    "Concat": _concat,
    "Split": _split,
    "Slice": _slice,
    "Reshape": _reshape,
    "Flatten": lambda x, a, g: x[0].reshape(math.prod(x[0].shape[: int(a.get("axis", 1))]), -1),
    "Transpose": _transpose,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Pad": _pad,
    "Resize": _resize,
    "Cast": _cast,
    "Shape": _shape,
    "Gather": _gather,
    "Expand": _expand,
    "Tile": lambda x, a, g: x[0].repeat(*_ints(x[1])),
    "Range": lambda x, a, g: torch.arange(
        x[0].item(), x[1].item(), x[2].item(), dtype=x[0].dtype
    ),  # fmt: skip
    "ScatterND": _scatter_nd,
    "ConstantOfShape": _constant_of_shape,
    "Constant": _constant,
    "NonMaxSuppression": _nms,
    "TopK": _topk,
    "GatherND": _gather_nd,
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum"),
    "ReduceMax": _reduce("max"),
    "ReduceMin": _reduce("min"),
}

if torch is not None:
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
    FLOAT_DTYPES: dict[str, Any] = {"float32": torch.float32, "float16": torch.float16,
                    "bfloat16": torch.bfloat16}  # fmt: skip


# --- the graph -------------------------------------------------------------------------------


@dataclass
class _Step:
    op: str
    fn: OpFn
    inputs: list[str]
    outputs: list[str]
    attrs: Attrs
    sources: list[tuple[bool, Any]] = field(default_factory=list)  # (from env?, name/tensor)
    free_after: list[str] = field(default_factory=list)  # values no later step reads


class Graph:
    """An ONNX graph as a list of PyTorch steps, constants folded, on one device."""

    def __init__(
        self, model: Any, device: str, dtype: str = "float32", channels_last: bool = False
    ) -> None:
        self.device = torch.device(device)
        self.dtype = FLOAT_DTYPES[dtype]
        self.batch_free = False
        self.channels_last = channels_last
        graph = model.graph
        missing = sorted({n.op_type for n in graph.node if n.domain not in ("", "ai.onnx")} |
                         {n.op_type for n in graph.node if n.op_type not in OPS})  # fmt: skip
        if missing:
            hint = ("; a quantized graph runs on the integer kernels it was calibrated for: use "
                    "its float export here" if "QuantizeLinear" in missing else "")  # fmt: skip
            raise ModelError(f"the torch runtime does not support {missing} "
                             f"(CAMWATCH_RUNTIME=onnxruntime runs this graph{hint})")  # fmt: skip
        inits = {i.name for i in graph.initializer}
        self.inputs = [i for i in graph.input if i.name not in inits]
        self.output_names = [o.name for o in graph.output]
        consts: dict[str, Tensor] = {
            i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer
        }
        steps: list[_Step] = []
        with torch.inference_mode():
            for node in graph.node:
                attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
                if node.op_type == "Split":  # equal parts: as many as it has outputs
                    attrs.setdefault("num_outputs", len(node.output))
                step = _Step(node.op_type, OPS[node.op_type], list(node.input),
                             list(node.output), attrs)  # fmt: skip
                if all(name == "" or name in consts for name in node.input):
                    try:  # fold a constant subgraph once, on the CPU
                        values = self._call(step, [consts.get(n) for n in node.input])
                    except ModelError:
                        raise
                    except Exception as exc:
                        raise ModelError(f"cannot fold {node.op_type} {node.name!r}: "
                                         f"{exc}") from exc  # fmt: skip
                    consts.update(zip(node.output, values, strict=False))
                else:
                    steps.append(step)
        # Operator parameters (shapes, scales, pads) are read from CPU copies; float data
        # (weights, biases) lives on the device in the runtime's precision.
        device_consts = {n: self.on_device(t) for n, t in consts.items()}
        self.consts = consts
        last_use: dict[str, int] = {}
        for index, step in enumerate(steps):
            params = PARAM_INPUTS.get(step.op, set())
            for pos, name in enumerate(step.inputs):
                if not name:
                    step.sources.append((False, None))
                elif name in consts:
                    step.sources.append((False, consts[name] if pos in params else
                                         device_consts[name]))  # fmt: skip
                else:
                    step.sources.append((True, name))
                    last_use[name] = index
        for name, index in last_use.items():
            if name not in self.output_names:
                steps[index].free_after.append(name)
        self.steps = steps

    def on_device(self, t: Tensor) -> Tensor:
        """Float data to the device in the runtime's precision (4-D: channels-last if asked)."""
        if not t.is_floating_point():
            return t
        t = t.to(self.device, self.dtype)
        return t.contiguous(memory_format=torch.channels_last) if self.channels_last and \
            t.ndim == 4 else t  # fmt: skip

    def _call(self, step: _Step, args: list[Any]) -> list[Tensor]:
        out = step.fn(args, step.attrs, self)
        return list(out) if isinstance(out, list | tuple) else [out]

    def run(self, feeds: dict[str, Tensor]) -> list[Tensor]:
        """Run the steps on ``feeds`` (already on the device) and return the outputs."""
        env: dict[str, Tensor] = dict(feeds)
        for step in self.steps:
            args = [env[v] if from_env else v for from_env, v in step.sources]
            try:
                values = self._call(step, args)
            except ModelError:
                raise
            except Exception as exc:
                raise ModelError(f"{step.op} -> {step.outputs}: {exc}") from exc
            env.update(zip(step.outputs, values, strict=False))
            for name in step.free_after:
                env.pop(name, None)
        return [env[n] if n in env else self.consts[n] for n in self.output_names]


# --- the session: what InProcessDetector uses of onnxruntime's ------------------------------------


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
    shape: list[int | str] = [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?")
                              for d in kind.shape.dim]  # fmt: skip
    name = helper.tensor_dtype_to_np_dtype(kind.elem_type).name
    return NodeArg(value.name, shape, f"tensor({'float' if name == 'float32' else name})")


class TorchSession:
    """An ONNX graph on PyTorch, answering ``run``/``get_inputs``/``get_outputs`` as onnxruntime.

    ``run`` is thread-safe (no state is written while running), so several batcher workers
    can share one session and overlap one batch's CPU work with another's GPU work.
    """

    def __init__(self, path: Path, device: str = "auto", dtype: str = "float32",
                 threads: int = 0, channels_last: bool | None = None) -> None:  # fmt: skip
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
        self.graph = Graph(model, self.device_name, dtype, cuda if channels_last is None
                           else channels_last)  # fmt: skip
        if len(self.graph.inputs) != 1:
            raise ModelError(f"{path.name}: want one input, found "
                             f"{[i.name for i in self.graph.inputs]}")  # fmt: skip
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
        shape = [d if isinstance(d, int) and d > 0 else free.get(i, 1)
                 for i, d in enumerate(self._input.shape)]  # fmt: skip
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
                and all(np.allclose(out[i : i + 1], singles[i][1][k], rtol=1e-3, atol=1e-4)
                        for i in range(2))
                for k, out in enumerate(pair)
            )  # fmt: skip
            reason = "" if same else "a batch of two differs from two single runs"
        except ModelError as exc:
            same, reason = False, str(exc)
        if not same:
            self.graph.batch_free = False
            log.info("graph stays at batch one", extra={"reason": reason})
            return f"fixed at 1 ({reason})"
        self._input = NodeArg(self._input.name, ["batch", *self._input.shape[1:]],
                              self._input.type)  # fmt: skip
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
            return [o.float().cpu().numpy() if o.is_floating_point() else o.cpu().numpy()
                    for o in outs]  # fmt: skip
