"""onnxruntime's execution providers: the GPU ones first when the build has them."""

from __future__ import annotations


def test_gpu_providers_come_first_when_the_runtime_has_them(monkeypatch) -> None:
    import onnxruntime as ort

    from shared.detection.runtimes.onnxruntime import providers

    monkeypatch.setattr(
        ort,
        "get_available_providers",
        lambda: ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"],
    )
    assert providers() == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert providers(prefer_gpu=False) == ["CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert providers() == ["CPUExecutionProvider"]  # this machine: onnxruntime CPU
