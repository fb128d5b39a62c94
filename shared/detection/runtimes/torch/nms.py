"""TF-style SSD post-processing operators: exact ``NonMaxSuppression``, ``TopK``, ``GatherND``."""

from __future__ import annotations

from typing import Any

import torch

from shared.detection.runtimes.torch.tensors import Attrs, OpContext, OpFn, Tensor, ints, scalar
from shared.errors import ModelError


def _nms(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    """ONNX ``NonMaxSuppression``, exactly: greedy per batch and class, by descending score
    (the lower index first on ties), suppressing IoU above the threshold, at most
    ``max_output_boxes_per_class`` each.

    Vectorised over (batch, class) rows: the greedy pass walks the top ``m`` candidates of
    every row at once. A row that has neither its quota nor its last candidate within ``m`` is
    done again with twice the ``m`` (greedy selection is a prefix: a longer walk only adds), so
    the result never depends on ``m``.
    """
    boxes, scores = x[0].float(), x[1].float()
    limit = int(scalar(x, 2, 0) or 0)
    iou_max = scalar(x, 3, 0.0) or 0.0
    floor = scalar(x, 4, None)
    batches, classes, count = scores.shape
    if limit <= 0 or count == 0 or batches * classes == 0:
        return torch.zeros((0, 3), dtype=torch.int64)
    if a.get("center_point_box", 0):
        cx, cy, w, h = boxes.unbind(-1)
        corners = torch.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)
    else:
        ya, xa, yb, xb = boxes.unbind(-1)
        corners = torch.stack(
            [
                torch.minimum(ya, yb),
                torch.minimum(xa, xb),
                torch.maximum(ya, yb),
                torch.maximum(xa, xb),
            ],
            -1,
        )
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
        inter = (
            torch.minimum(y2[:, :, None], y2[:, None, :])
            - torch.maximum(y1[:, :, None], y1[:, None, :])
        ).clamp(min=0) * (
            torch.minimum(x2[:, :, None], x2[:, None, :])
            - torch.maximum(x1[:, :, None], x1[:, None, :])
        ).clamp(min=0)
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


def _topk(x: list[Any], a: Attrs, g: OpContext) -> list[Tensor]:
    """``TopK``, sorted, the lower index first among equal values (as onnxruntime)."""
    k, axis = int(ints(x[1])[0]), int(a.get("axis", -1))
    values, indices = torch.sort(x[0], dim=axis, descending=bool(a.get("largest", 1)), stable=True)
    return [values.narrow(axis, 0, k), indices.narrow(axis, 0, k).to(torch.int64)]


def _gather_nd(x: list[Any], a: Attrs, g: OpContext) -> Tensor:
    if a.get("batch_dims", 0):
        raise ModelError("GatherND with batch_dims is not supported")
    data, indices = x[0], x[1].to(x[0].device)
    k = indices.shape[-1]
    flat = indices.reshape(-1, k)
    out = data[tuple(flat[:, i] for i in range(k))]
    return out.reshape([*indices.shape[:-1], *data.shape[k:]])


NMS_OPS: dict[str, OpFn] = {
    "NonMaxSuppression": _nms,
    "TopK": _topk,
    "GatherND": _gather_nd,
}
