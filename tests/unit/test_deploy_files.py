"""Terraform and the Dockerfile agree with the code (no provider download here: read the HCL)."""

from __future__ import annotations

import re
from pathlib import Path

from shared.adapters.warehouse import SCHEMAS, TABLES
from shared.settings import Settings

ROOT = Path(__file__).parents[2]
TF = ROOT / "terraform"


def test_every_terraform_variable_is_typed_and_described() -> None:
    text = (TF / "variables.tf").read_text()
    blocks = re.split(r'^variable "', text, flags=re.M)[1:]
    assert len(blocks) >= 5
    for block in blocks:
        name = block.split('"', 1)[0]
        assert re.search(r"^\s+type\s+=", block, re.M), f"{name} has no type"
        assert re.search(r"^\s+description\s+=", block, re.M), f"{name} has no description"


def test_terraform_env_names_are_settings() -> None:
    main = (TF / "main.tf").read_text()
    env_block = main.split("env = merge(", 1)[1].split("var.settings", 1)[0]
    names = re.findall(r"^\s+([A-Z_]+)\s+=", env_block, re.M)
    assert "REDIS_HOST" in names and "BIGQUERY_DATASET" in names
    fields = {f.upper() for f in Settings.model_fields}
    assert set(names) <= fields, set(names) - fields
    assert '"CAMWATCH_${env.key}"' in main


def test_terraform_tables_come_from_the_schema_files() -> None:
    main = (TF / "main.tf").read_text()
    assert 'fileset("${path.module}/../schemas/bigquery", "*.json")' in main
    assert {p.stem for p in SCHEMAS.glob("*.json")} == set(TABLES)
    for attr in ("each.value.schema", "each.value.clustering", "each.value.timePartitioning"):
        assert attr in main


def test_dockerfile_serves_every_function_by_target() -> None:
    text = (ROOT / "functions" / "Dockerfile").read_text()
    assert (
        "COPY requirements.txt" in text and "pip install --no-cache-dir -r requirements.txt" in text
    )
    for part in ("shared/", "schemas/", "functions/"):
        assert f"COPY {part} {part}" in text
    assert '--source="functions/${FUNCTION_TARGET}/main.py"' in text
    targets = [p.parent.name for p in (ROOT / "functions").glob("*/main.py")]
    assert "process_camera" in targets
    for target in targets:  # each function module defines a handler named like its folder
        assert f"def {target}(" in (ROOT / "functions" / target / "main.py").read_text()


def test_pubsub_topology_is_declared_once() -> None:
    from shared.messages.topology import ROUTES, TOPOLOGY

    pubsub = (TF / "pubsub.tf").read_text()
    assert 'file("${path.module}/../schemas/pubsub/topology.json")' in pubsub
    for attr in ("each.value.max_delivery_attempts", "each.value.min_backoff_s",
                 "each.value.max_backoff_s", "each.value.ack_deadline_s"):  # fmt: skip
        assert attr in pubsub
    assert {r.topic: r.function for r in ROUTES} == {
        "camera-sweep": "sweep", "camera-jobs": "camera_worker", "violations": "alert_dispatcher"
    }  # fmt: skip
    for route in ROUTES:  # each route's function exists and is a CloudEvent function
        main = (ROOT / "functions" / route.function / "main.py").read_text()
        assert "@functions_framework.cloud_event" in main and f'"{route.topic}"' in main
    assert TOPOLOGY.is_file()


def test_alert_secrets_come_from_secret_manager() -> None:
    main = (TF / "main.tf").read_text()
    variables = (TF / "variables.tf").read_text()
    # Secrets are Secret Manager ids mounted as env vars of alert_dispatcher, never values.
    assert "WEBHOOK_SECRET = var.alerts.webhook_secret_id" in main
    assert "secret_key_ref" in main and 'each.key == "alert_dispatcher"' in main
    assert "roles/secretmanager.secretAccessor" in main
    assert "webhook_secret " not in variables and "smtp_password " not in variables
    for name in ("WEBHOOK_URL", "ALERT_EMAIL_TO", "SMTP_HOST", "EVIDENCE_BUCKET"):
        assert f"{name} " in main  # every alert setting reaches the functions


def test_cloud_scheduler_publishes_a_valid_sweep_message() -> None:
    from shared.messages.schemas import validate

    pubsub = (TF / "pubsub.tf").read_text()
    variables = (TF / "variables.tf").read_text()
    assert 'resource "google_cloud_scheduler_job" "sweep"' in pubsub
    assert 'topic_name = google_pubsub_topic.topics["camera-sweep"].id' in pubsub
    assert "base64encode(jsonencode(var.sweep.message))" in pubsub
    assert 'schedule  = optional(string, "*/5 * * * *")' in variables
    assert "message   = optional(map(list(string)), {})" in variables
    validate("camera_sweep", {})  # the default body: every camera


def test_inference_image_is_the_cuda_build_of_the_pinned_runtime() -> None:
    docker = (ROOT / "functions" / "inference" / "Dockerfile").read_text()
    gpu = (ROOT / "functions" / "inference" / "requirements-gpu.txt").read_text()
    pinned = next(
        line.split("==")[1]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("onnxruntime==")
    )
    assert docker.startswith("#") and "FROM nvidia/cuda:12." in docker and "cudnn" in docker
    assert f"onnxruntime-gpu=={pinned}" in gpu and f"onnxruntime-gpu=={pinned}" in docker
    assert "pip uninstall -y onnxruntime" in docker  # the CPU build must not shadow it
    assert "--target=inference" in docker and '--port="${AIP_HTTP_PORT:-${PORT:-8080}}"' in docker
    assert "AIP_HEALTH_ROUTE=/health" in docker and "AIP_PREDICT_ROUTE=/predict" in docker


def test_terraform_declares_the_gpu_inference_service() -> None:
    tf = (TF / "inference.tf").read_text()
    for needle in ('"nvidia.com/gpu" = "1"', "accelerator = var.inference.gpu_type",
                   'path = "/health"', 'role     = "roles/run.invoker"',
                   'DETECTOR_BACKEND = "service"', "INFERENCE_URL    = google_cloud_run_v2_service"
                   ".inference[0].uri", 'ingress  = "INGRESS_TRAFFIC_INTERNAL_ONLY"'):  # fmt: skip
        assert needle in tf, needle
    assert "local.detector_env," in (TF / "main.tf").read_text()
    variables = (TF / "variables.tf").read_text()
    assert 'gpu_type       = optional(string, "nvidia-l4")' in variables
    assert "!var.inference.enabled || var.inference.image != null" in variables
