"""An ONNX graph as PyTorch steps: loaded, checked for operators, constants folded, run.

Constant subgraphs (tf2onnx exports compute resize scales and reshape targets) are folded once
at load. Operator parameters (shapes, scales, pads) are read from CPU copies and integer
constants stay on the CPU, so shape arithmetic never waits on the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from onnx import helper, numpy_helper

from shared.detection.runtimes.torch.ops import OPS, PARAM_INPUTS
from shared.detection.runtimes.torch.tensors import FLOAT_DTYPES, Attrs, OpFn, Tensor
from shared.errors import ModelError


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
        missing = sorted(
            {n.op_type for n in graph.node if n.domain not in ("", "ai.onnx")}
            | {n.op_type for n in graph.node if n.op_type not in OPS}
        )
        if missing:
            hint = (
                "; a quantized graph runs on the integer kernels it was calibrated for: use "
                "its float export here"
                if "QuantizeLinear" in missing
                else ""
            )
            raise ModelError(
                f"the torch runtime does not support {missing} "
                f"(CAMWATCH_RUNTIME=onnxruntime runs this graph{hint})"
            )
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
                step = _Step(
                    node.op_type, OPS[node.op_type], list(node.input), list(node.output), attrs
                )
                if all(name == "" or name in consts for name in node.input):
                    try:  # fold a constant subgraph once, on the CPU
                        values = self._call(step, [consts.get(n) for n in node.input])
                    except ModelError:
                        raise
                    except Exception as exc:
                        raise ModelError(
                            f"cannot fold {node.op_type} {node.name!r}: {exc}"
                        ) from exc
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
                    step.sources.append(
                        (False, consts[name] if pos in params else device_consts[name])
                    )
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
        return (
            t.contiguous(memory_format=torch.channels_last)
            if self.channels_last and t.ndim == 4
            else t
        )

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
