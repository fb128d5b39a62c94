"""The PyTorch runtime: an ONNX detector graph run by PyTorch, on CUDA when there is a GPU.

For GPU machines that have PyTorch with CUDA but not onnxruntime-gpu. A small pure-Python
converter reads the ONNX graph (the ``onnx`` package) and runs it node by node with
``torch.nn.functional``; :class:`~.session.TorchSession` answers the part of onnxruntime's
``InferenceSession`` API that :class:`~shared.detection.inprocess.InProcessDetector` uses, so
the same preprocessing, decoders and dynamic batching drive either runtime (``CAMWATCH_RUNTIME``).

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

Modules: :mod:`.session` (:class:`~.session.TorchSession`, the entry point), :mod:`.graph`
(loading, folding, running), :mod:`.ops` (the operator table, with :mod:`.ops_nn`,
:mod:`.ops_shape` and :mod:`.nms`) and :mod:`.tensors` (what the operators share). Import from
them; this package imports nothing, so PyTorch is loaded only when the runtime is asked for.
"""
