"""Shape and layout operators: reshaping, slicing, gathering, scattering, constants."""

from __future__ import annotations

import math
from typing import Any

import torch
from onnx import numpy_helper

from shared.detection.runtimes.torch.tensors import (
    Attrs,
    OpContext,
    OpFn,
    Tensor,
    align,
    ints,
)
from shared.errors import ModelError


def _reshape(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    data, target = x[0], ints(x[1])
    if not a.get("allowzero", 0):
        target = [data.shape[i] if t == 0 else t for i, t in enumerate(target)]
    if g.batch_free and target and target[0] == 1 and data.ndim and data.shape[0] > 1:
        target[0] = data.shape[0]  # a fixed-batch export's leading 1 is the batch
    return data.reshape(target)


def _transpose(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    perm = a.get("perm") or list(reversed(range(x[0].ndim)))
    return x[0].permute(*perm)


def _concat(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    return torch.cat(align(*[t for t in x if t.numel() or t.ndim > 1]), dim=int(a["axis"]))


def _split(x: list[Any], a: Attrs, g: OpContext) -> list[Tensor]:
    axis = int(a.get("axis", 0))
    if len(x) > 1 and x[1] is not None:
        sizes = ints(x[1])
    elif "split" in a:
        sizes = list(a["split"])
    else:
        n = int(a["num_outputs"])  # the attribute of opset 18, filled in at load before it
        sizes = [x[0].shape[axis] // n] * n
    return list(torch.split(x[0], sizes, dim=axis))


def _slice(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    data = x[0]
    starts, ends = ints(x[1]), ints(x[2])
    axes = ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
    steps = ints(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
    index: list[Any] = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        if step < 0:
            raise ModelError("Slice with a negative step is not supported")
        n = data.shape[axis]
        index[axis] = slice(max(-n, min(start, n)), max(-n, min(end, n)), step)
    return data[tuple(index)]


def _squeeze(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    axes = ints(x[1]) if len(x) > 1 and x[1] is not None else a.get("axes")
    if axes is None:
        return x[0].squeeze()
    return x[0].squeeze(tuple(int(i) for i in axes))


def _unsqueeze(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    axes = ints(x[1]) if len(x) > 1 else list(a["axes"])
    out = x[0]
    rank = out.ndim + len(axes)
    for axis in sorted(i % rank for i in axes):
        out = out.unsqueeze(axis)
    return out


def _gather(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    data, index = x[0], x[1].to(x[0].device)
    axis = int(a.get("axis", 0)) % data.ndim
    index = torch.where(index < 0, index + data.shape[axis], index)
    out = torch.index_select(data, axis, index.reshape(-1))
    return out.reshape([*data.shape[:axis], *index.shape, *data.shape[axis + 1 :]])


def _expand(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    shape = ints(x[1])
    data = x[0]
    rank = max(len(shape), data.ndim)
    data = data.reshape([1] * (rank - data.ndim) + list(data.shape))
    shape = [1] * (rank - len(shape)) + shape
    return data.expand(
        [max(s, d) if d == 1 or s != 1 else d for s, d in zip(shape, data.shape, strict=True)]
    )


def _scatter_nd(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    data, indices, updates = x[0].clone(), x[1].to(x[0].device), x[2].to(x[0].device)
    k = indices.shape[-1]
    flat = indices.reshape(-1, k)
    values = updates.reshape(flat.shape[0], *data.shape[k:])
    data[tuple(flat[:, i] for i in range(k))] = values.to(data.dtype)
    return data


def _shape(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    shape = list(x[0].shape)
    start, end = int(a.get("start", 0)), a.get("end")
    return torch.tensor(shape[start : None if end is None else int(end)], dtype=torch.int64)


def _constant_of_shape(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    value = a.get("value")
    fill = (
        torch.from_numpy(numpy_helper.to_array(value).copy())
        if value is not None
        else torch.zeros(1, dtype=torch.float32)
    )
    return fill.reshape(()).expand(ints(x[0])).clone()


def _constant(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    if "value" in a:
        return torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
    for key, dtype in (
        ("value_float", torch.float32),
        ("value_floats", torch.float32),
        ("value_int", torch.int64),
        ("value_ints", torch.int64),
    ):
        if key in a:
            return torch.tensor(a[key], dtype=dtype)
    raise ModelError(f"Constant with {sorted(a)} is not supported")


SHAPE_OPS: dict[str, OpFn] = {
    "Concat": _concat,
    "Split": _split,
    "Slice": _slice,
    "Reshape": _reshape,
    "Flatten": lambda x, a, g: x[0].reshape(math.prod(x[0].shape[: int(a.get("axis", 1))]), -1),
    "Transpose": _transpose,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Shape": _shape,
    "Gather": _gather,
    "Expand": _expand,
    "Tile": lambda x, a, g: x[0].repeat(*ints(x[1])),
    "Range": lambda x, a, g: torch.arange(x[0].item(), x[1].item(), x[2].item(), dtype=x[0].dtype),
    "ScatterND": _scatter_nd,
    "ConstantOfShape": _constant_of_shape,
    "Constant": _constant,
}
