"""Who may call what, and the stores locked, read from the HCL (no provider here).

One checker, :func:`problems`, reads every ``terraform/*.tf``; the tests run it on the real
files (no problems) and on copies changed the ways a careless edit would (each one found).
"""

from __future__ import annotations

import re

import pytest

from shared.settings import Settings
from tests.unit.test_forecast_terraform import TF, _block

INTEGRATORS = ["process_camera", "predictions"]
FUNCTIONS = 'resource "google_cloud_run_v2_service"'


def _code(text: str) -> str:
    """The HCL without its comments (a comment may name what it forbids)."""
    text = re.sub(r"^\s*#.*$", "", text, flags=re.M)
    return re.sub(r"\s#\s.*$", "", text, flags=re.M)


def _blocks(files: dict[str, str], kind: str, name: str) -> str:
    found = [_block(t, kind, name) for t in files.values() if f'{kind} "{name}" {{' in t]
    assert len(found) == 1, f"want one {kind} {name}, found {len(found)}"
    return found[0]


def problems(files: dict[str, str]) -> list[str]:
    """Each way the Terraform ``files`` (name -> text) lets the wrong caller in or a store open."""
    code = {name: _code(text) for name, text in files.items()}
    every = "\n".join(code.values())
    found: list[str] = []
    for member in ("allUsers", "allAuthenticatedUsers"):
        if member in every:
            found.append(f"a binding for {member}")
    # The integrator-facing services, and only they: no invoker check, public ingress.
    names = re.search(r"integrator_functions = \[([^\]]*)\]", every)
    if names is None or re.findall(r'"(\w+)"', names[1]) != INTEGRATORS:
        found.append(f"local.integrator_functions is not {INTEGRATORS}")
    integrator_line = re.compile(r"^\s*\{ for f in local\.integrator_functions : f => \{.*$", re.M)
    lines = integrator_line.findall(every)
    wanted = 'ingress = "INGRESS_TRAFFIC_ALL", invoker_iam_disabled = true'
    if len(lines) != 1 or wanted not in lines[0]:
        found.append("the integrator functions are not the public, app-authenticated ones")
    rest = integrator_line.sub("", every)
    if "INGRESS_TRAFFIC_ALL" in rest:
        found.append("public ingress outside the integrator functions")
    functions = _blocks(code, FUNCTIONS, "functions")
    # Elsewhere only `false`; in the functions' resource, the value of local.functions.
    for text, allowed in (
        (rest.replace(functions, ""), {"false"}),
        (functions, {"false", "each.value.invoker_iam_disabled"}),
    ):
        for value in re.findall(r"invoker_iam_disabled\s*=\s*([\w.\[\]\"]+)", text):
            if value not in allowed:
                found.append(f"invoker_iam_disabled = {value} outside the integrators")
    for member in re.findall(r'role\s*=\s*"roles/run\.invoker"\s*\n\s*member\s*=\s*(.+)', every):
        if not re.fullmatch(r'"serviceAccount:\$\{google_service_account\.\w+\.email\}"', member):
            found.append(f"run.invoker for {member}, not a named service account")
    # The stores.
    redis = _blocks(code, 'resource "google_redis_instance"', "cache")
    if not re.search(r"auth_enabled\s*=\s*true", redis):
        found.append("Redis without AUTH")
    if not re.search(r'transit_encryption_mode\s*=\s*"SERVER_AUTHENTICATION"', redis):
        found.append("Redis without TLS")
    bucket = _blocks(code, 'resource "google_storage_bucket"', "frames")
    if not re.search(r'public_access_prevention\s*=\s*"enforced"', bucket):
        found.append("the evidence bucket without public access prevention")
    return found


def _files() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(TF.glob("*.tf"))}


def test_the_terraform_has_no_problems() -> None:
    assert problems(_files()) == []


def _inject(files: dict[str, str], name: str, old: str, new: str) -> dict[str, str]:
    assert old in files[name], old
    return {**files, name: files[name].replace(old, new, 1)}


@pytest.mark.parametrize(
    ("name", "old", "new", "problem"),
    [
        # a public invoker binding on the inference service
        (
            "inference.tf",
            'member   = "serviceAccount:${google_service_account.functions.email}"',
            'member   = "allUsers"',
            "a binding for allUsers",
        ),
        # any authenticated Google account on the event functions
        (
            "pubsub.tf",
            'member   = "serviceAccount:${google_service_account.push.email}"',
            'member   = "allAuthenticatedUsers"',
            "a binding for allAuthenticatedUsers",
        ),
        # the invoker check off on the inference service
        (
            "inference.tf",
            'ingress  = "INGRESS_TRAFFIC_INTERNAL_ONLY"',
            'ingress  = "INGRESS_TRAFFIC_INTERNAL_ONLY"\n  invoker_iam_disabled = true',
            "invoker_iam_disabled = true outside the integrators",
        ),
        # ... or on the event functions
        (
            "main.tf",
            'ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY", invoker_iam_disabled = false',
            'ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY", invoker_iam_disabled = true',
            "invoker_iam_disabled = true outside the integrators",
        ),
        # the event functions made public
        (
            "main.tf",
            'ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY", invoker_iam_disabled = false',
            'ingress = "INGRESS_TRAFFIC_ALL", invoker_iam_disabled = false',
            "public ingress outside the integrator functions",
        ),
        # one more integrator-facing function, unreviewed
        (
            "main.tf",
            'integrator_functions = ["process_camera", "predictions"]',
            'integrator_functions = ["process_camera", "predictions", "sweep"]',
            "local.integrator_functions is not",
        ),
        # run.invoker for a user instead of a service account
        (
            "pubsub.tf",
            'member   = "serviceAccount:${google_service_account.push.email}"',
            'member   = "user:someone@example.com"',
            "not a named service account",
        ),
        (
            "main.tf",
            "auth_enabled            = true",
            "auth_enabled            = false",
            "Redis without AUTH",
        ),
        (
            "main.tf",
            'transit_encryption_mode = "SERVER_AUTHENTICATION"',
            'transit_encryption_mode = "DISABLED"',
            "Redis without TLS",
        ),
        (
            "main.tf",
            'public_access_prevention = "enforced"',
            'public_access_prevention = "inherited"',
            "without public access prevention",
        ),
    ],
)
def test_the_checker_finds_each_hole(name: str, old: str, new: str, problem: str) -> None:
    found = problems(_inject(_files(), name, old, new))
    assert any(problem in p for p in found), found


def test_a_comment_may_name_what_is_forbidden() -> None:
    files = _inject(_files(), "main.tf", "locals {", "# never allUsers here\nlocals {")
    assert problems(files) == []


MAIN = (TF / "main.tf").read_text()
SECRETS = (TF / "secrets.tf").read_text()
SERVICE = _block(MAIN, FUNCTIONS, "functions")


@pytest.mark.parametrize(
    ("secret_id", "name", "data"),
    [
        ("redis-auth", "redis_auth", "google_redis_instance.cache.auth_string"),
        ("redis-ca", "redis_ca", "google_redis_instance.cache.server_ca_certs[0].cert"),
        ("api-keys", "api_keys", "jsonencode({ keys = [] })"),  # filled by the city
    ],
)
def test_each_secret_has_a_version_the_functions_may_read(
    secret_id: str, name: str, data: str
) -> None:
    secret = _block(SECRETS, 'resource "google_secret_manager_secret"', name)
    assert f'secret_id = "{secret_id}"' in secret
    version = _block(SECRETS, 'resource "google_secret_manager_secret_version"', name)
    assert f"secret_data = {data}" in version
    readers = _block(
        SECRETS, 'resource "google_secret_manager_secret_iam_member"', "functions_read"
    )
    assert f"google_secret_manager_secret.{name}.id" in readers
    assert "google_service_account.functions.email" in readers
    assert f"google_secret_manager_secret_version.{name}," in SERVICE  # before the revision


def test_the_functions_reach_redis_with_auth_and_the_mounted_ca() -> None:
    assert 'redis_ca_dir = "/secrets/redis-ca"' in SECRETS
    assert 'REDIS_CA_FILE           = "${local.redis_ca_dir}/ca.pem"' in MAIN
    assert 'REDIS_TLS               = "true"' in MAIN
    assert "REDIS_PORT              = tostring(google_redis_instance.cache.port)" in MAIN
    volume = _block(SERVICE.replace("\n    volumes {", '\nvolumes "x" {'), "volumes", "x")
    assert "secret = google_secret_manager_secret.redis_ca.secret_id" in volume
    assert 'path    = "ca.pem"' in volume
    assert "mount_path = local.redis_ca_dir" in SERVICE
    # The AUTH string: an environment variable from the secret, on every function.
    assert "REDIS_PASSWORD = google_secret_manager_secret.redis_auth.secret_id" in SECRETS
    assert "local.store_secret_env," in SERVICE
    for field in ("redis_password", "redis_tls", "redis_ca_file"):
        assert field in Settings.model_fields


def test_the_integrators_get_api_keys_and_id_token_settings() -> None:
    assert "API_KEYS = google_secret_manager_secret.api_keys.secret_id" in SECRETS
    assert (
        "contains(local.integrator_functions, each.key) ? local.integrator_secret_env : {}"
        in SERVICE
    )
    # The shape of schemas/id_token_callers.schema.json: {"callers": [...]}.
    assert "ID_TOKEN_CALLERS = jsonencode({ callers = var.id_token_callers })" in SECRETS
    assert "ID_TOKEN_AUDIENCE = local.id_token_audience[each.key]" in SERVICE
    # The service's own URL, built (its `uri` attribute would be a cycle).
    url = (
        '"https://${replace(f, "_", "-")}-${data.google_project.this.number}.${var.region}.run.app"'
    )
    assert url in SECRETS
    assert "google_cloud_run_v2_service.functions" not in SECRETS
    callers = _block((TF / "variables.tf").read_text(), "variable", "id_token_callers")
    for attr in ("email      = string", "name       = string", "scopes     = list(string)"):
        assert attr in callers
    assert "per_minute = number" in callers
