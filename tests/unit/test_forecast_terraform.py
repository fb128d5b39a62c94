"""The scheduled forecast job and the views in Terraform, read from the HCL (no provider here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.adapters.warehouse import VIEW_QUERIES, VIEWS
from shared.settings import Settings

ROOT = Path(__file__).parents[2]
TF = ROOT / "terraform"


def _block(text: str, kind: str, name: str) -> str:
    """The body of ``kind "name" { ... }`` (braces balanced); kind e.g. ``resource "TYPE"``."""
    head = re.search(rf'^{re.escape(kind)} "{name}" \{{', text, re.M)
    assert head is not None, f"no {kind} {name}"
    depth, start = 0, head.end() - 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
    raise AssertionError(f"unbalanced {kind} {name}")


def _variable_defaults(name: str) -> dict[str, str]:
    """``optional(type, default)`` of an object variable, by attribute."""
    block = _block((TF / "variables.tf").read_text(), "variable", name)
    return dict(re.findall(r"^\s+(\w+)\s+=\s+optional\(\w+(?:\(\w+\))?, (.+)\)$", block, re.M))


FORECAST = (TF / "forecast.tf").read_text()
JOB = _block(FORECAST, 'resource "google_cloud_run_v2_job"', "forecast")
SCHEDULER = _block(FORECAST, 'resource "google_cloud_scheduler_job"', "forecast")


def test_the_job_runs_the_forecast_entry_point_from_the_functions_image() -> None:
    assert 'resource "google_cloud_run_v2_job" "forecast"' in FORECAST
    assert 'command = ["python", "-m", "shared.entrypoints.forecast_job"]' in JOB
    assert re.search(r"^\s+image\s+=\s+var\.image$", JOB, re.M)
    assert "service_account = google_service_account.forecast.email" in JOB
    assert "for_each = local.forecast_env" in JOB
    assert 'name  = "CAMWATCH_${env.key}"' in JOB


def test_the_job_gets_the_functions_env_and_the_bigquery_ml_backend() -> None:
    env = re.search(r"forecast_env = merge\((.*?)\n  \)", FORECAST, re.S)
    assert env is not None
    parts = [p.strip() for p in env.group(1).strip().split(",\n")]
    assert parts[0] == "local.env"
    last = parts[-1]  # last: the job's own settings cannot change the backend
    assert 'FORECAST_BACKEND = "bigquery_ml"' in last
    assert 'ALLOW_FILE_SOURCES = "false"' in last
    names = re.findall(r"(\w+) = ", last)
    assert {n.lower() for n in names} <= set(Settings.model_fields)
    backend = Settings.model_fields["forecast_backend"].annotation
    assert "bigquery_ml" in getattr(backend, "__args__", ())


def test_the_job_may_edit_the_dataset_and_run_queries() -> None:
    for role in ("roles/bigquery.dataEditor", "roles/bigquery.jobUser"):
        member = re.search(rf'role\s+=\s+"{re.escape(role)}"\n\s+member\s+=\s+(.+)', FORECAST)
        assert member is not None, role
        assert "google_service_account.forecast.email" in member.group(1)


def test_the_job_may_publish_on_the_anomalies_topic_only() -> None:
    from shared.service_layer.anomaly_alerts import TOPIC

    grant = _block(FORECAST, 'resource "google_pubsub_topic_iam_member"', "forecast_publisher")
    assert f'topic  = google_pubsub_topic.topics["{TOPIC}"].id' in grant
    assert 'role   = "roles/pubsub.publisher"' in grant
    assert "google_service_account.forecast.email" in grant
    # No project-wide publisher role for the job: it publishes on that one topic.
    project_roles = re.findall(
        r'resource "google_project_iam_member" "\w+" \{[^}]*role\s+=\s+"([^"]+)"', FORECAST
    )
    assert project_roles == ["roles/bigquery.jobUser"]


def test_the_alert_functions_get_the_alert_secrets() -> None:
    from shared.messages.topology import ROUTES

    main = (TF / "main.tf").read_text()
    mounted = r"for_each = contains\(local\.secret_functions, each\.key\) \? local\.secret_env"
    assert re.search(mounted, main)
    listed = re.search(r"secret_functions = \[(.+)\]", main)
    assert listed is not None
    named = set(re.findall(r'"(\w+)"', listed.group(1)))
    topics = ("violations", "anomalies", "alert-deliveries")
    alerting = {r.function for r in ROUTES if r.topic in topics}
    assert named == alerting == {"alert_dispatcher", "anomaly_dispatcher", "alert_delivery"}


def test_scheduler_runs_the_job_through_the_admin_api_with_an_oauth_token() -> None:
    assert re.search(r"schedule\s+=\s+var\.forecast\.schedule", SCHEDULER)
    assert 'http_method = "POST"' in SCHEDULER
    uri = re.search(r'uri\s+=\s+"(.+)"', SCHEDULER)
    assert uri is not None
    assert uri.group(1) == (
        "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}"
        "/jobs/${google_cloud_run_v2_job.forecast.name}:run"
    )
    assert "oauth_token {" in SCHEDULER  # an OAuth token for a Google API, not an OIDC token
    assert "service_account_email = google_service_account.forecast_scheduler.email" in SCHEDULER
    invoker = _block(
        FORECAST, 'resource "google_cloud_run_v2_job_iam_member"', "forecast_scheduler"
    )
    assert "name     = google_cloud_run_v2_job.forecast.name" in invoker  # this job only
    assert 'role     = "roles/run.invoker"' in invoker
    assert "google_service_account.forecast_scheduler.email" in invoker


def test_the_schedule_is_a_typed_variable_every_six_hours_by_default() -> None:
    defaults = _variable_defaults("forecast")
    assert defaults["schedule"] == '"0 */6 * * *"'
    assert defaults["time_zone"] == '"Etc/UTC"'


def test_views_are_created_in_dependency_order_and_ml_files_are_not_views() -> None:
    text = (TF / "bigquery_views.tf").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "schemas/bigquery/ml" not in code
    assert re.findall(r"fileset\((.*?)\)", code) == [
        '"${path.module}/../schemas/bigquery/views", "*.sql"'
    ]
    derived = re.search(r"derived_view_names = \[(.*?)\]", text)
    assert derived is not None
    derived_names = set(re.findall(r'"(\w+)"', derived.group(1)))
    reads = {
        v: {o for o in VIEWS if o != v and f".{o}`" in (VIEW_QUERIES / f"{v}.sql").read_text()}
        for v in VIEWS
    }
    # A view that reads a view is derived; a derived view reads only tables and base views.
    assert derived_names == {v for v, r in reads.items() if r}
    assert all(not (r & derived_names) for r in reads.values())
    derived_block = _block(text, 'resource "google_bigquery_table"', "derived_views")
    assert "for_each            = local.derived_views" in derived_block
    assert re.search(r"depends_on = \[.*google_bigquery_table\.views.*\]", derived_block)
    # warehouse.VIEWS creates them in the same order.
    for view, needs in reads.items():
        assert all(VIEWS.index(n) < VIEWS.index(view) for n in needs), view


def test_forecast_variable_is_typed_and_described() -> None:
    block = _block((TF / "variables.tf").read_text(), "variable", "forecast")
    assert re.search(r"^\s+type = object\(", block, re.M)
    assert re.search(r"^\s+description = \".+\"", block, re.M)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_is_formatted() -> None:
    run = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(TF)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout
