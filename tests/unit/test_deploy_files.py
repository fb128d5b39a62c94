"""Terraform and the Dockerfile agree with the code (no provider download here: read the HCL)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from shared.adapters.warehouse import (
    TABLE_SCHEMAS,
    TABLES,
    VIEW_PLACEHOLDERS,
    VIEW_QUERIES,
    VIEWS,
    view_query,
)
from shared.settings import Settings

ROOT = Path(__file__).parents[2]
DOCKERFILES = [ROOT / "functions" / "Dockerfile", ROOT / "functions" / "inference" / "Dockerfile"]
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
    assert "REDIS_HOST" in names
    assert "BIGQUERY_DATASET" in names
    fields = {f.upper() for f in Settings.model_fields}
    assert set(names) <= fields, set(names) - fields
    assert '"CAMWATCH_${env.key}"' in main


def test_deployed_functions_read_no_local_files() -> None:
    main = (TF / "main.tf").read_text()
    env_block = main.split("env = merge(", 1)[1].split("\n  )\n", 1)[0]
    # After var.settings, the merge's last word: no extra setting can turn file sources on.
    last = env_block.split("var.settings,", 1)[1]
    assert re.search(r'^\s*\{\s*ALLOW_FILE_SOURCES\s*=\s*"false"\s*\},?\s*$', last, re.M), last
    assert "allow_file_sources" in Settings.model_fields
    assert "for_each = local.env" in main  # the functions' containers get local.env


def test_terraform_tables_come_from_the_schema_files() -> None:
    main = (TF / "main.tf").read_text()
    assert 'fileset("${path.module}/../schemas/bigquery", "*.json")' in main
    assert {p.stem for p in TABLE_SCHEMAS.glob("*.json")} == set(TABLES)
    for attr in ("each.value.schema", "each.value.clustering", "each.value.timePartitioning"):
        assert attr in main


def test_dockerfile_serves_every_function_by_target() -> None:
    text = (ROOT / "functions" / "Dockerfile").read_text()
    assert "COPY requirements.txt" in text
    assert "pip install --no-cache-dir --require-hashes -r requirements.txt" in text
    for part in ("shared/", "schemas/", "functions/"):
        assert f"COPY {part} {part}" in text
    assert "--source=functions/${FUNCTION_TARGET}/main.py" in text
    targets = [p.parent.name for p in (ROOT / "functions").glob("*/main.py")]
    assert "process_camera" in targets
    for target in targets:  # each function module defines a handler named like its folder
        assert f"def {target}(" in (ROOT / "functions" / target / "main.py").read_text()


def test_pubsub_topology_is_declared_once() -> None:
    from shared.messages.topology import ROUTES, TOPOLOGY

    pubsub = (TF / "pubsub.tf").read_text()
    assert 'file("${path.module}/../schemas/pubsub/topology.json")' in pubsub
    for attr in (
        "each.value.max_delivery_attempts",
        "each.value.min_backoff_s",
        "each.value.max_backoff_s",
        "each.value.ack_deadline_s",
    ):
        assert attr in pubsub
    assert {r.topic: r.function for r in ROUTES} == {
        "camera-sweep": "sweep",
        "camera-jobs": "camera_worker",
        "violations": "alert_dispatcher",
        "anomalies": "anomaly_dispatcher",
        "alert-deliveries": "alert_delivery",
        "monitor-ticks": "monitor",
    }
    for route in ROUTES:  # each route's function exists and is a CloudEvent function
        main = (ROOT / "functions" / route.function / "main.py").read_text()
        assert "@functions_framework.cloud_event" in main
        assert f'"{route.topic}"' in main
    assert TOPOLOGY.is_file()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_images_install_the_hashed_lock_and_the_package(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert "--require-hashes -r requirements.txt" in text  # nothing unpinned slips in
    assert "pip install --no-cache-dir --no-deps -e ." in text  # the package, no PYTHONPATH
    assert "PYTHONPATH" not in text
    assert text.index("COPY pyproject.toml") < text.index("-e .")


def test_alert_secrets_come_from_secret_manager() -> None:
    main = (TF / "main.tf").read_text()
    variables = (TF / "variables.tf").read_text()
    # Secrets are Secret Manager ids mounted as env vars of the alert functions, never values.
    assert "WEBHOOK_SECRET = var.alerts.webhook_secret_id" in main
    assert "secret_key_ref" in main
    assert 'secret_functions = ["alert_dispatcher", "anomaly_dispatcher", "alert_delivery"]' in main
    assert "roles/secretmanager.secretAccessor" in main
    assert "webhook_secret " not in variables
    assert "smtp_password " not in variables
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
    [pinned] = re.findall(r"^onnxruntime==([\w.]+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert docker.startswith("#")
    assert "FROM nvidia/cuda:12." in docker
    assert "cudnn" in docker
    assert f"onnxruntime-gpu=={pinned}" in gpu
    assert "pip install --no-cache-dir --require-hashes -r requirements.txt" in docker
    assert "pip uninstall -y onnxruntime" in docker  # the CPU build must not shadow it
    assert "--no-deps -r functions/inference/requirements-gpu.txt" in docker
    assert "--target=inference" in docker
    assert "--port=${AIP_HTTP_PORT:-${PORT:-8080}}" in docker
    assert "AIP_HEALTH_ROUTE=/health" in docker
    assert "AIP_PREDICT_ROUTE=/predict" in docker


def test_terraform_declares_the_gpu_inference_service() -> None:
    tf = (TF / "inference.tf").read_text()
    for needle in (
        '"nvidia.com/gpu" = "1"',
        "accelerator = var.inference.gpu_type",
        'path = "/health"',
        'role     = "roles/run.invoker"',
        'DETECTOR_BACKEND = "service"',
        "INFERENCE_URL    = google_cloud_run_v2_service.inference[0].uri",
        'ingress  = "INGRESS_TRAFFIC_INTERNAL_ONLY"',
    ):
        assert needle in tf, needle
    assert "local.detector_env," in (TF / "main.tf").read_text()
    variables = (TF / "variables.tf").read_text()
    assert 'gpu_type       = optional(string, "nvidia-l4")' in variables
    assert "!var.inference.enabled || var.inference.image != null" in variables


# What each image ships: the files its COPY lines send through .dockerignore. The rules of
# Docker (moby/patternmatcher) that ours need: one pattern a line, `#` comments and blank lines
# skipped, a leading `/` dropped, paths relative to the context root; `*` any run of characters
# but `/`, `?` one of them, `[...]` a class, `**` any number of folders (none included); a
# pattern that matches a folder excludes everything under it; `!` takes a path back; the last
# matching pattern wins.


def _docker_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            i += 3 if pattern.startswith("**/", i) else 2
            out += ".*" if i >= len(pattern) else "(?:.*/)?"
            continue
        char = pattern[i]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i + 1)
            out += pattern[i : end + 1]
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out)


def dockerignore(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is an exception, pattern) for each line of a .dockerignore."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((exception, _docker_regex(pattern)))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker leaves ``path`` (relative, with `/`) out of the build context."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # folders, then the file
    excluded = False
    for exception, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not exception
    return excluded


def shipped(dockerfile: Path) -> set[str]:
    """The files (relative to the root) that the Dockerfile's COPY lines put in its image."""
    rules = dockerignore((ROOT / ".dockerignore").read_text())
    files: set[str] = set()
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if not words or words[0] != "COPY":
            continue
        assert not any(w.startswith("--from") for w in words), line  # all from the context
        for source in (w for w in words[1:-1] if not w.startswith("--")):
            path = ROOT / source
            found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            assert found, f"{dockerfile.name}: {line}: nothing to copy"
            names = {p.relative_to(ROOT).as_posix() for p in found}
            kept = {name for name in names if not ignored(name, rules)}
            assert kept, f"{dockerfile.name}: {line}: .dockerignore drops all of it"
            files |= kept
    return files


def test_the_dockerignore_matcher_follows_docker() -> None:
    rules = dockerignore(
        "# comment\n\n**/__pycache__\n/terraform\n*.md\ntests\n!tests/data\ntests/data/big\n"
        "shared/assets/*\n!shared/assets/models\nshared/*/x?.py\nfoo/**\n"
    )
    for path, out in [
        ("__pycache__/a.pyc", True),  # `**` is any number of folders, none too
        ("shared/domain/__pycache__/zones.cpython-311.pyc", True),  # under a matched folder
        ("terraform/main.tf", True),
        ("README.md", True),
        ("docs/README.md", False),  # `*` does not cross a `/`
        ("tests/unit/test_x.py", True),
        ("tests/data/small.jpg", False),  # taken back by `!`
        ("tests/data/big/a.bin", True),  # the last match wins
        ("shared/assets/images/car1.jpg", True),
        ("shared/assets/cameras.yaml", True),
        ("shared/assets/models/m.onnx", False),
        ("shared/domain/x1.py", True),
        ("shared/domain/x12.py", False),  # `?` is one character
        ("shared/a/b/x1.py", False),
        ("foo/bar/baz", True),
        ("shared/settings.py", False),
    ]:
        assert ignored(path, rules) is out, path


def test_images_ship_the_code_the_schemas_and_the_default_model_only() -> None:
    code = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "shared").rglob("*.py")
        if "devstack" not in p.parts and "__pycache__" not in p.parts
    }
    schemas = {p.relative_to(ROOT).as_posix() for p in (ROOT / "schemas").rglob("*.json")}
    mains = {p.relative_to(ROOT).as_posix() for p in (ROOT / "functions").glob("*/main.py")}
    assets = {
        f"shared/assets/{name}"
        for name in (
            "cameras.yaml",
            "NOTICE",
            "models/ssd_coco_labels.txt",
            "models/ssd_mobilenet_v2_coco_quant.onnx",
        )
    }
    # What must stay out is in the tree (the check is not vacuous).
    out = (
        "shared/devstack/",
        "shared/assets/images/",
        "shared/assets/video/",
        "tests/",
        "terraform/",
        "docs/",
        ".venv/",
        ".stack/",
        ".git/",
    )
    for folder in ("shared/devstack", "shared/assets/images", "shared/assets/video"):
        assert any((ROOT / folder).iterdir()), folder
    want = {"requirements.txt", *code, *schemas, *mains, *assets}
    for dockerfile in DOCKERFILES:
        files = shipped(dockerfile)
        name = dockerfile.relative_to(ROOT).as_posix()
        assert want <= files, (name, sorted(want - files))
        leaked = sorted(
            f
            for f in files
            if f.startswith(out) or "__pycache__" in f.split("/") or f.endswith(".pyc")
        )
        assert not leaked, (name, leaked)
    assert "functions/inference/requirements-gpu.txt" in shipped(DOCKERFILES[1])


def test_dockerfile_comments_name_modules_that_exist() -> None:
    inference = (ROOT / "functions" / "inference" / "Dockerfile").read_text()
    for needle in (
        "shared/detection/runtimes/onnxruntime.py",
        "shared/entrypoints/inference.py",
        "shared/detection/model_store.py",
    ):
        assert needle in inference, needle
    for dockerfile in DOCKERFILES:
        comments = "\n".join(x for x in dockerfile.read_text().splitlines() if x.startswith("#"))
        named = re.findall(
            r"(?<![\w./-])((?:shared|functions|schemas|terraform)/[\w./-]*\w/?)", comments
        )
        assert named, dockerfile
        for path in named:
            assert (ROOT / path).exists(), f"{dockerfile.relative_to(ROOT)} names {path}"


def test_terraform_views_come_from_the_sql_files_after_the_tables() -> None:
    text = (TF / "bigquery_views.tf").read_text()
    assert 'fileset("${path.module}/../schemas/bigquery/views", "*.sql")' in text
    assert {p.stem for p in VIEW_QUERIES.glob("*.sql")} == set(VIEWS)
    assert "query = templatefile(each.value, {" in text
    assert re.search(r"use_legacy_sql\s*=\s*false", text)
    assert re.search(r"depends_on\s*=\s*\[google_bigquery_table\.tables\]", text)
    # Terraform fills exactly the placeholders the code fills.
    filled = re.search(r"templatefile\(each\.value, \{(.*?)\}\)", text, re.S)
    assert filled is not None
    assert set(re.findall(r"^\s*(\w+)\s*=", filled.group(1), re.M)) == VIEW_PLACEHOLDERS


@pytest.mark.parametrize("name", VIEWS)
def test_view_placeholders_are_the_ones_code_and_terraform_fill(name: str) -> None:
    sql = (VIEW_QUERIES / f"{name}.sql").read_text()
    assert set(re.findall(r"\$\{(\w+)\}", sql)) == VIEW_PLACEHOLDERS
    # Nothing else that string.Template or templatefile would read: bare $name, $$ or %{.
    assert not re.search(r"\$(?!\{(?:project|dataset)\})|%\{", sql)
    query = view_query(name, "proj", "data")
    assert re.search(r"`proj\.data\.\w+`", query)
    assert "$" not in query


def test_predictions_is_deployed_like_process_camera() -> None:
    main = (TF / "main.tf").read_text()
    found = re.search(r"integrator_functions = \[(?P<names>[^\]]*)\]", main)
    assert found, "main.tf names the integrator-facing functions"
    names = re.findall(r'"(\w+)"', found["names"])
    assert names == ["process_camera", "predictions"]
    for name in names:  # the handler the image serves by FUNCTION_TARGET
        assert f"def {name}(" in (ROOT / "functions" / name / "main.py").read_text()
    # public ingress and a startup probe on /health for exactly those
    assert (
        'for f in local.integrator_functions : f => { ingress = "INGRESS_TRAFFIC_ALL", '
        "invoker_iam_disabled = true }" in main
    )
    assert "for_each = contains(local.integrator_functions, each.key) ? [1] : []" in main
    assert main.count('"INGRESS_TRAFFIC_ALL"') == 1
    outputs = (TF / "outputs.tf").read_text()
    assert 'google_cloud_run_v2_service.functions["predictions"].uri' in outputs


def test_the_buckets_lifecycle_rules_keep_each_image_as_long_as_the_settings_say() -> None:
    variables = (TF / "variables.tf").read_text()
    block = variables[variables.index('variable "evidence"') :]
    block = block[: block.index("\n}\n")]
    defaults = dict(re.findall(r"(\w+)\s+= optional\((?:number|bool), ([\w.]+)\)", block))
    settings = Settings()
    assert defaults == {
        "url_expiry_s": str(settings.evidence_url_expiry_s),
        "store_originals": str(settings.store_original_frames).lower(),
        "evidence": str(settings.evidence_retention_days),
        "original": str(settings.original_retention_days),
        "latest": str(settings.latest_retention_days),
    }
    main = (TF / "main.tf").read_text()
    # one Delete rule per kind, on its prefix, after the kind's days
    found = re.search(r"retention_prefixes = \{(?P<body>[^}]*)\}", main)
    assert found
    prefixes = dict(re.findall(r'(\w+) = "([^"]+)"', found["body"]))
    assert prefixes == {"evidence": "evidence/", "original": "originals/", "latest": "latest/"}
    assert "age            = var.evidence.retention_days[lifecycle_rule.key]" in main
    assert "matches_prefix = [lifecycle_rule.value]" in main
    assert 'type = "Delete"' in main
    # the code writes where the rules look
    from shared.service_layer.evidence import dated

    assert dated("evidence", "cam-1", "2026-11-30T08:00:00+00:00") == "evidence/cam-1/2026/11/30/"
    evidence = (ROOT / "shared" / "service_layer" / "evidence.py").read_text()
    assert 'f"latest/{camera.id}.jpg"' in evidence
    assert '"evidence/", "originals/"' in evidence
    # the functions sign as themselves
    assert 'role               = "roles/iam.serviceAccountTokenCreator"' in main
    assert "SIGNER_SERVICE_ACCOUNT  = google_service_account.functions.email" in main
