"""Detection: the detector port and everything that runs a model.

``port`` (the ``Detector`` protocol), ``inprocess`` (an ONNX graph in this process),
``layouts/`` (one file per model output layout, plus preprocessing and NMS), ``runtimes/``
(onnxruntime, and PyTorch split by job), ``remote`` and ``breaker`` (clients of the inference
service on Cloud Run or Vertex AI), ``batching`` and ``inference_service`` (the service
itself), ``model_store`` (model files) and ``factory`` (the detector the settings ask for).
It never imports the cache, warehouse or bus, so the GPU image stays lean.
"""
