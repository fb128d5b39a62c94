"""The detector the settings ask for: in process, the inference service, or Vertex AI.

The inference entry point builds its detector here, not through ``shared.bootstrap``, so the
GPU image never imports Redis, BigQuery or Pub/Sub clients (a test checks it).
"""

from __future__ import annotations

from pathlib import Path

from shared.detection.breaker import CircuitBreaker
from shared.detection.inprocess import InProcessDetector
from shared.detection.port import Detector
from shared.errors import ConfigError
from shared.settings import Settings


def make_detector(settings: Settings) -> Detector:
    """The detector of ``CAMWATCH_DETECTOR_BACKEND``: in process, the service, or Vertex AI."""
    from shared.detection.remote import CloudRunDetector, VertexDetector

    breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_open_s)
    if settings.detector_backend == "service":
        if not settings.inference_url:
            raise ConfigError("CAMWATCH_DETECTOR_BACKEND=service needs CAMWATCH_INFERENCE_URL")
        return CloudRunDetector(
            settings.inference_url,
            settings.inference_timeout_s,
            settings.inference_retries,
            breaker,
            settings.inference_auth,
        )
    if settings.detector_backend == "vertex":
        if not settings.vertex_endpoint:
            raise ConfigError("CAMWATCH_DETECTOR_BACKEND=vertex needs CAMWATCH_VERTEX_ENDPOINT")
        return VertexDetector(
            settings.vertex_endpoint,
            settings.vertex_api_endpoint,
            settings.inference_timeout_s,
            settings.inference_retries,
            breaker,
        )
    return inprocess_detector(settings)


def inprocess_detector(settings: Settings, threads: int | None = None) -> InProcessDetector:
    """The in-process detector of the settings (a ``gs://`` model is fetched at first load)."""
    uri = settings.model_uri

    def fetch() -> Path:
        from shared.adapters.blobstore import GcsBlobStore, storage_client
        from shared.detection.model_store import fetch_model

        assert uri is not None
        blobs = GcsBlobStore(storage_client(settings.project_id, settings.storage_emulator_host))
        return fetch_model(uri, blobs, settings.model_cache_dir)

    return InProcessDetector(
        settings.model_path,
        settings.labels_path,
        settings.model_version,
        settings.intra_op_threads if threads is None else threads,
        settings.model_layout,
        fetch=fetch if uri else None,
        expect_sha256=settings.model_sha256,
        runtime=settings.runtime,
        torch_device=settings.torch_device,
        torch_dtype=settings.torch_dtype,
    )
