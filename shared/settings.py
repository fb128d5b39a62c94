"""The one settings object. Every value comes from an environment variable ``CAMWATCH_<NAME>``.

Emulator hosts use the names Google's client libraries already read
(``STORAGE_EMULATOR_HOST``, ``PUBSUB_EMULATOR_HOST``). ``docs/reference/settings.md`` lists them
all, generated from the field descriptions here (``make docs``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from shared import OPENCV_MAX_PIXELS
from shared.errors import ConfigError
from shared.setting_names import variable_of, warn_deprecated
from shared.settings_alerts import AlertSettings
from shared.settings_auth import AuthSettings
from shared.settings_evidence import EvidenceSettings
from shared.settings_forecast import ForecastSettings

ASSETS = Path(__file__).resolve().parent / "assets"


class Settings(ForecastSettings, EvidenceSettings, AlertSettings, AuthSettings):
    """camwatch configuration, read from ``CAMWATCH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CAMWATCH_", extra="ignore", frozen=True)

    project_id: str = Field("camwatch-local", description="Google Cloud project id.")
    registry_path: Path = Field(
        ASSETS / "cameras.yaml",
        description="Camera registry YAML (schemas/camera_registry.schema.json); `${VAR}` expands "
        "from the environment, relative paths resolve against the file's folder.",
    )
    # Detection
    model_path: Path = Field(
        ASSETS / "models" / "ssd_mobilenet_v2_coco_quant.onnx",
        description="The ONNX detector graph (SSD, NanoDet or Ultralytics layout).",
    )
    labels_path: Path | None = Field(
        None,
        description="`<id> <name>` per line; unset: the layout's own (SSD file, model "
        "metadata, or COCO-80).",
    )
    model_layout: Literal["auto", "ssd", "nanodet", "ultralytics"] = Field(
        "auto", description="Output layout of the model; auto reads it from the graph."
    )
    model_uri: str | None = Field(
        None,
        pattern=r"^gs://[a-z0-9][a-z0-9._-]{1,221}/.+",
        description="gs://bucket/object of the model: downloaded once per instance into "
        "CAMWATCH_MODEL_CACHE_DIR and used instead of CAMWATCH_MODEL_PATH.",
    )
    model_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="Expected sha256: another file fails at load."
    )
    model_cache_dir: Path = Field(
        Path("/tmp/camwatch-models"), description="Where a gs:// model is downloaded."
    )
    model_version: str = Field("coral-2019-int8", description="Reported model version.")
    score_threshold: float = Field(0.4, ge=0.0, le=1.0, description="Default minimum score.")
    intra_op_threads: int = Field(0, ge=0, description="Runtime CPU threads (0: runtime picks).")
    runtime: Literal["onnxruntime", "torch"] = Field(
        "onnxruntime",
        description="What runs the ONNX graph: onnxruntime (CUDA/TensorRT with onnxruntime-gpu) "
        "or torch (PyTorch, CUDA when it sees a GPU; requirements-torch.txt).",
    )
    torch_device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description="torch runtime device: auto (CUDA when PyTorch sees a GPU, else CPU), cpu, "
        "cuda or cuda:N.",
    )
    torch_dtype: Literal["float32", "float16", "bfloat16"] = Field(
        "float32", description="torch runtime precision (float16/bfloat16: GPU only)."
    )
    # Which detector the functions use, and the inference service's own settings
    detector_backend: Literal["inprocess", "service", "vertex"] = Field(
        "inprocess",
        description="inprocess (the model in this process, CAMWATCH_RUNTIME), service (the "
        "inference service on Cloud Run), vertex (a Vertex AI endpoint).",
    )
    inference_url: str | None = Field(
        None, description="Base URL of the inference service (backend `service`)."
    )
    inference_auth: bool = Field(
        True, description="Send a Google ID token (audience: the URL) to the service."
    )
    vertex_endpoint: str | None = Field(
        None, description="projects/P/locations/L/endpoints/E (backend `vertex`)."
    )
    vertex_api_endpoint: str | None = Field(
        None, description="Vertex AI API host override, e.g. us-central1-aiplatform.googleapis.com."
    )
    inference_timeout_s: float = Field(10.0, gt=0, description="Deadline of one prediction.")
    inference_retries: int = Field(3, ge=0, description="Retries on 429/503, with backoff.")
    breaker_failures: int = Field(5, ge=1, description="Failures in a row that open the circuit.")
    breaker_open_s: float = Field(30.0, gt=0, description="How long an open circuit fails fast.")
    batching: bool = Field(True, description="Service: gather concurrent requests into batches.")
    max_batch_size: int = Field(8, ge=1, description="Service: largest batch.")
    max_wait_ms: float = Field(5.0, ge=0, description="Service: longest wait to fill a batch.")
    max_queue: int = Field(64, ge=1, description="Service: waiting images before 429.")
    inference_workers: int = Field(
        2,
        ge=1,
        description="Service: worker threads (fixed-batch graphs: a session each; batched "
        "graphs: one shared session).",
    )
    max_images_per_request: int = Field(
        32,
        ge=1,
        validation_alias=AliasChoices(
            "CAMWATCH_MAX_IMAGES_PER_REQUEST", "CAMWATCH_MAX_INSTANCES", "max_images_per_request"
        ),
        description="Service: most images (Vertex `instances`) in one prediction request.",
    )
    # Frames
    connect_timeout_s: float = Field(
        3.0,
        gt=0,
        description="Camera connect timeout; with the read timeout, the one deadline of a "
        "whole fetch (connect, headers, body, redirects).",
    )
    read_timeout_s: float = Field(
        5.0, gt=0, description="Longest silence of a camera; added to the connect timeout."
    )
    max_frame_bytes: int = Field(
        8 * 1024 * 1024,
        gt=0,
        description="Largest accepted frame (a snapshot, or one part of an MJPEG stream).",
    )
    max_segment_bytes: int = Field(
        32 * 1024 * 1024,
        gt=0,
        description="Largest HLS segment fetched to decode one frame from (held in memory).",
    )
    max_frame_pixels: int = Field(
        4096 * 4096,
        gt=0,
        le=OPENCV_MAX_PIXELS,
        description="Most pixels decoded for one frame. A larger baseline JPEG (up to 64 times "
        "this) is decoded at 1/2, 1/4 or 1/8 scale; a larger frame of any other kind is "
        "`too_large`, refused from its header without decoding (docs/reference/input-outcomes.md).",
    )
    min_frame_side: int = Field(
        32, ge=1, description="Camera frames narrower or lower than this are `too_small`."
    )
    max_concurrent_decodes: int = Field(
        2, ge=1, description="Most frames decoded at once per process (bounds memory)."
    )
    allow_private_sources: bool = Field(
        False, description="Allow loopback/private camera addresses (local stack, on-prem)."
    )
    allow_file_sources: bool = Field(
        True,
        description="Allow local file and video sources (regular files only; the deployed "
        "functions set it false).",
    )
    max_request_bytes: int = Field(
        64 * 1024, gt=0, description="Largest JSON request body of an integrator call (413)."
    )
    max_json_depth: int = Field(
        32,
        ge=3,  # a prediction body, {"instances": [{"b64": ...}]}, is 3 deep
        description="Deepest JSON nesting accepted in a body (400) or message (dead letter).",
    )
    stale_after_s: int = Field(600, gt=0, description="Same frame this long: camera is stale.")
    max_job_age_s: int = Field(
        900, gt=0, description="A camera job older than this is dropped (later sweeps cover it)."
    )
    dependency_ride_out_s: float = Field(
        15.0,
        ge=0.0,
        le=30.0,
        description="A message whose handler finds Redis, BigQuery, storage or inference down is "
        "tried again inside the same delivery (pauses 0.5 s doubling to 4 s) until this long "
        "has passed, before Pub/Sub's redelivery takes over (docs/faults.md).",
    )
    delivery_ride_out_s: float = Field(
        40.0,
        ge=0.0,
        le=45.0,
        description="An alert whose receiver (webhook, SMTP server) fails is sent again inside "
        "the same delivery, pauses 0.5 s doubling to 4 s, until this long has passed; then "
        "Pub/Sub redelivers it (docs/faults.md).",
    )
    evidence_bucket: str = Field(
        "camwatch-evidence",
        description="Bucket name (no gs:// prefix) for violation evidence frames.",
    )
    # Tracks (shared/domain/tracks.py)
    track_min_iou: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="Least IoU of a detection with a track's last box (same class) to continue it.",
    )
    track_stationary_iou: float = Field(
        0.85,
        gt=0.0,
        le=1.0,
        description="IoU with the previous box above which a road user has not moved (stationary).",
    )
    track_max_gap_s: int = Field(
        900,
        gt=0,
        description="How long a track survives unseen (a missed sweep, an occlusion) before it "
        "ends.",
    )
    track_ttl_s: int = Field(
        3600,
        gt=0,
        description="TTL of a camera's tracks in Redis, refreshed on each update; at least "
        "CAMWATCH_TRACK_MAX_GAP_S.",
    )
    # Redis
    redis_host: str = Field("127.0.0.1", description="Memorystore Redis host.")
    redis_port: int = Field(6379, gt=0, lt=65536, description="Redis port.")
    redis_timeout_s: float = Field(1.0, gt=0, description="Redis socket timeout.")
    redis_password: SecretStr | None = Field(
        None, description="Redis AUTH string (Memorystore: from Secret Manager); none: no AUTH."
    )
    redis_tls: bool = Field(
        False, description="Connect to Redis over TLS, verifying the server's certificate."
    )
    redis_ca_file: str | None = Field(
        None,
        description="PEM file of the CA that signed the Redis server certificate (Memorystore's "
        "server CA); with CAMWATCH_REDIS_TLS and none given: the system CAs.",
    )
    cache_ttl_s: int = Field(300, gt=0, description="TTL of a cached frame result.")
    # BigQuery
    bigquery_dataset: str = Field("camwatch", description="Dataset for the tables.")
    bigquery_location: str = Field("US", description="Dataset location.")
    bigquery_endpoint: str | None = Field(
        None, description="API endpoint, e.g. the local emulator http://127.0.0.1:9050."
    )
    bigquery_timeout_s: float = Field(10.0, gt=0, description="Deadline of one BigQuery call.")
    # Emulators
    pubsub_emulator_host: str | None = Field(
        None, validation_alias="PUBSUB_EMULATOR_HOST", description="Pub/Sub emulator host:port."
    )
    storage_emulator_host: str | None = Field(
        None, validation_alias="STORAGE_EMULATOR_HOST", description="fake-gcs-server URL."
    )

    @field_validator("track_ttl_s")
    @classmethod
    def _track_ttl(cls, value: int, info: ValidationInfo) -> int:
        gap = info.data.get("track_max_gap_s")
        if gap is not None and value < gap:
            raise ValueError(f"want at least CAMWATCH_TRACK_MAX_GAP_S ({gap})")
        return value

    @model_validator(mode="after")
    def _warn_deprecated(self) -> Settings:
        warn_deprecated()
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once; a bad variable fails fast naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{variable_of(Settings.model_fields, e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
