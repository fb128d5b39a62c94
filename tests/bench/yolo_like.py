"""A YOLOv8-architecture detector with random weights, exported to ONNX by PyTorch.

No trained Ultralytics weights can be had offline, and the ``ultralytics`` package needs
torchvision, so this builds the same architecture in plain PyTorch: Conv-BN-SiLU blocks, C2f
(split, bottlenecks, concat), SPPF, a PAN neck with nearest upsampling, and the decoupled
detect head with its DFL box decoding and anchors computed from the feature maps' shapes. At
``width=0.25, depth=0.33`` it has YOLOv8n's channels (16 to 256) and block counts. The export
is the Ultralytics layout: ``[B, 4 + classes, anchors]`` (cx, cy, w, h in input pixels, then
sigmoid class scores), with free batch, height and width, and ``names``/``imgsz`` metadata.
Its boxes mean nothing; its shapes, operators and cost are those of the real thing.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import torch
from torch import nn

from shared.detection.layouts.labels import COCO80
from shared.settings import ASSETS


class Conv(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool) -> None:
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(c, c, 3), Conv(c, c, 3), shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1: int, c2: int, n: int, shortcut: bool = True) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c)
        self.cv2 = Conv((2 + n) * self.c, c2)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c1, c1 // 2), Conv(c1 // 2 * 4, c2)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Detect(nn.Module):
    """The decoupled head: per level 4 x 16 distance bins and the class scores."""

    def __init__(self, classes: int, channels: list[int], strides: list[int]) -> None:
        super().__init__()
        self.nc, self.reg, self.strides = classes, 16, strides
        c2, c3 = max(16, channels[0] // 4, 64), max(channels[0], min(classes, 100))
        self.box = nn.ModuleList(
            nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg, 1))
            for c in channels
        )
        self.cls = nn.ModuleList(
            nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, classes, 1))
            for c in channels
        )
        self.register_buffer("bins", torch.arange(self.reg, dtype=torch.float32).view(1, -1, 1, 1))
        for seq in self.cls:  # Ultralytics' prior: class scores start near 0.01
            last: Any = seq[-1]  # type: ignore[index]
            nn.init.constant_(last.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        b = feats[0].shape[0]
        outs, anchors, strides = [], [], []
        for i, x in enumerate(feats):
            h, w = x.shape[2], x.shape[3]
            head = torch.cat([self.box[i](x), self.cls[i](x)], 1)
            outs.append(head.view(b, 4 * self.reg + self.nc, -1))
            sy = torch.arange(h, dtype=torch.float32) + 0.5
            sx = torch.arange(w, dtype=torch.float32) + 0.5
            gy, gx = torch.meshgrid(sy, sx, indexing="ij")
            anchors.append(torch.stack((gx, gy), -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), float(self.strides[i])))
        anchor = torch.cat(anchors).transpose(0, 1).unsqueeze(0)
        stride = torch.cat(strides).transpose(0, 1).unsqueeze(0)
        raw = torch.cat(outs, 2)
        box, cls = raw.split((4 * self.reg, self.nc), 1)
        bins = box.view(b, 4, self.reg, -1).transpose(2, 1).softmax(1)
        dist = (bins * self.bins).sum(1).view(b, 4, -1)  # DFL: the expectation over bins
        lt, rb = dist.chunk(2, 1)
        x1y1, x2y2 = anchor - lt, anchor + rb
        xywh = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * stride
        return torch.cat((xywh, cls.sigmoid()), 1)


class YoloLike(nn.Module):
    def __init__(self, classes: int = 80, width: float = 0.25, depth: float = 0.33) -> None:
        super().__init__()

        def c(n: int) -> int:
            return max(8, int(n * width))

        def d(n: int) -> int:
            return max(1, round(n * depth))

        self.stem = nn.Sequential(
            Conv(3, c(64), 3, 2), Conv(c(64), c(128), 3, 2), C2f(c(128), c(128), d(3))
        )
        self.p3 = nn.Sequential(Conv(c(128), c(256), 3, 2), C2f(c(256), c(256), d(6)))
        self.p4 = nn.Sequential(Conv(c(256), c(512), 3, 2), C2f(c(512), c(512), d(6)))
        self.p5 = nn.Sequential(
            Conv(c(512), c(1024), 3, 2), C2f(c(1024), c(1024), d(3)), SPPF(c(1024), c(1024))
        )
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n4 = C2f(c(1024) + c(512), c(512), d(3), False)
        self.n3 = C2f(c(512) + c(256), c(256), d(3), False)
        self.d3 = Conv(c(256), c(256), 3, 2)
        self.m4 = C2f(c(256) + c(512), c(512), d(3), False)
        self.d4 = Conv(c(512), c(512), 3, 2)
        self.m5 = C2f(c(512) + c(1024), c(1024), d(3), False)
        self.detect = Detect(classes, [c(256), c(512), c(1024)], [8, 16, 32])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p3 = self.p3(self.stem(x))
        p4 = self.p4(p3)
        p5 = self.p5(p4)
        n4 = self.n4(torch.cat([self.up(p5), p4], 1))
        n3 = self.n3(torch.cat([self.up(n4), p3], 1))
        m4 = self.m4(torch.cat([self.d3(n3), n4], 1))
        m5 = self.m5(torch.cat([self.d4(m4), p5], 1))
        return self.detect([n3, m4, m5])


def yolo_like(
    path: Path,
    size: int = 640,
    classes: int = 80,
    width: float = 0.25,
    depth: float = 0.33,
    seed: int = 0,
) -> Path:
    """Export the model (random weights) to ``path`` and return it.

    Batch norm statistics are first measured on the vendored street images, so activations keep
    their scale through the network, as trained ones do: a frame then has a realistic few
    hundred class scores above 0.25 for the decoder and NMS, rather than none.
    """
    torch.manual_seed(seed)
    model = YoloLike(classes, width, depth)
    frames: list[Any] = [cv2.imread(str(p)) for p in sorted((ASSETS / "images").glob("*.jpg"))]
    batch = np.stack([cv2.resize(f, (size, size))[:, :, ::-1].transpose(2, 0, 1) for f in frames])
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # a plain average over the calibration batch
    with torch.no_grad():
        model.train()(torch.from_numpy(batch.astype(np.float32) / 255))
    model.eval()
    buffer: Any = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, size, size),),
            buffer,
            dynamo=False,
            opset_version=17,
            input_names=["images"],
            output_names=["output0"],
            dynamic_axes={
                "images": {0: "batch", 2: "height", 3: "width"},
                "output0": {0: "batch", 2: "anchors"},
            },
        )
    graph = onnx.load_from_string(buffer.getvalue())
    names: dict[int, Any] = dict(enumerate(COCO80[:classes]))
    for key, value in (
        ("imgsz", f"[{size}, {size}]"),
        ("names", repr(names)),
        ("stride", "32"),
        ("task", "detect"),
    ):
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    return path
