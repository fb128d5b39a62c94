"""The onnxruntime runtime: TensorRT and CUDA when the build has them (onnxruntime-gpu), or CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort

from shared.errors import ModelError

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def providers(prefer_gpu: bool = True) -> list[str]:
    """TensorRT and CUDA when this onnxruntime build has them (onnxruntime-gpu), then CPU."""
    available = set(ort.get_available_providers())
    gpu = [p for p in GPU_PROVIDERS if p in available] if prefer_gpu else []
    return [*gpu, "CPUExecutionProvider"]


def ort_session(path: Path, threads: int) -> Any:
    """An ``onnxruntime.InferenceSession`` on the best providers, or :class:`ModelError`."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=providers())
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load {path}: {exc}") from exc
