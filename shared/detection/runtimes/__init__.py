"""Runtimes that run an ONNX graph: :func:`open_session` picks onnxruntime or PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from shared.detection.runtimes.onnxruntime import ort_session
from shared.errors import ModelError


class GraphSession(Protocol):
    """What the detector uses of a runtime: onnxruntime's session or ``TorchSession``."""

    def run(self, output_names: Any, feeds: dict[str, Any]) -> list[Any]: ...
    def get_inputs(self) -> list[Any]: ...
    def get_outputs(self) -> list[Any]: ...
    def get_modelmeta(self) -> Any: ...
    def get_providers(self) -> list[str]: ...


def open_session(
    path: Path, runtime: str, threads: int, device: str = "auto", dtype: str = "float32"
) -> GraphSession:
    """The graph on onnxruntime (CUDA/TensorRT when installed) or on PyTorch."""
    if runtime == "torch":
        try:  # PyTorch is imported only when asked for
            from shared.detection.runtimes.torch.session import TorchSession
        except ImportError as exc:
            raise ModelError(
                "CAMWATCH_RUNTIME=torch needs PyTorch and onnx (requirements-torch.txt)"
            ) from exc
        return TorchSession(path, device, dtype, threads)
    return ort_session(path, threads)  # type: ignore[no-any-return]
