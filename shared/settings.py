"""The one settings object. Every value comes from an environment variable ``CAMWATCH_<NAME>``.

Emulator hosts use the names Google's client libraries already read
(``STORAGE_EMULATOR_HOST``, ``PUBSUB_EMULATOR_HOST``). The table in README.md lists them all.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError

ASSETS = Path(__file__).resolve().parent / "assets"


class Settings(BaseSettings):
    """camwatch configuration, read from ``CAMWATCH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CAMWATCH_", extra="ignore", frozen=True)

    project_id: str = Field("camwatch-local", description="Google Cloud project id.")
    registry_path: Path = Field(
        ASSETS / "cameras.yaml", description="Camera registry YAML (see schemas/)."
    )
    # Detection
    model_path: Path = Field(
        ASSETS / "models" / "ssd_mobilenet_v2_coco_quant.onnx", description="ONNX detector."
    )
    labels_path: Path = Field(
        ASSETS / "models" / "ssd_coco_labels.txt", description="`<id> <name>` per line."
    )
    model_version: str = Field("coral-2019-int8", description="Reported model version.")
    score_threshold: float = Field(0.4, ge=0.0, le=1.0, description="Default minimum score.")
    intra_op_threads: int = Field(0, ge=0, description="onnxruntime threads (0: runtime picks).")
    # Frames
    connect_timeout_s: float = Field(3.0, gt=0, description="Camera connect timeout.")
    read_timeout_s: float = Field(5.0, gt=0, description="Camera read timeout.")
    max_frame_bytes: int = Field(8 * 1024 * 1024, gt=0, description="Largest accepted frame.")
    max_frame_pixels: int = Field(4096 * 4096, gt=0, description="Largest accepted image area.")
    allow_private_sources: bool = Field(
        False, description="Allow loopback/private camera addresses (local stack, on-prem)."
    )
    allow_file_sources: bool = Field(True, description="Allow local file and video sources.")
    stale_after_s: int = Field(600, gt=0, description="Same frame this long: camera is stale.")
    max_job_age_s: int = Field(
        900, gt=0, description="A camera job older than this is dropped (later sweeps cover it)."
    )
    evidence_bucket: str = Field(
        "camwatch-evidence", description="Bucket for violation evidence frames (gs://)."
    )
    # Redis
    redis_host: str = Field("127.0.0.1", description="Memorystore Redis host.")
    redis_port: int = Field(6379, gt=0, lt=65536, description="Redis port.")
    redis_timeout_s: float = Field(1.0, gt=0, description="Redis socket timeout.")
    cache_ttl_s: int = Field(300, gt=0, description="TTL of a cached frame result.")
    # BigQuery
    bigquery_dataset: str = Field("camwatch", description="Dataset for the tables.")
    bigquery_location: str = Field("US", description="Dataset location.")
    bigquery_endpoint: str | None = Field(
        None, description="API endpoint, e.g. the local emulator http://127.0.0.1:9050."
    )
    bigquery_timeout_s: float = Field(10.0, gt=0, description="Deadline of one BigQuery call.")
    # Cloud Storage
    pubsub_emulator_host: str | None = Field(
        None, validation_alias="PUBSUB_EMULATOR_HOST", description="Pub/Sub emulator host:port."
    )
    storage_emulator_host: str | None = Field(
        None, validation_alias="STORAGE_EMULATOR_HOST", description="fake-gcs-server URL."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once; a bad variable fails fast naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CAMWATCH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
