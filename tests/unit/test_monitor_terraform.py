"""The monitor and the alert subscribers in Terraform, read from the HCL (no provider here)."""

from __future__ import annotations

import re

from tests.unit.test_forecast_terraform import TF, _block, _variable_defaults

MAIN = (TF / "main.tf").read_text()
PUBSUB = (TF / "pubsub.tf").read_text()
VARIABLES = (TF / "variables.tf").read_text()


def test_a_scheduler_job_ticks_the_monitor_every_minute() -> None:
    job = _block(PUBSUB, 'resource "google_cloud_scheduler_job"', "monitor")
    assert 'topic_name = google_pubsub_topic.topics["monitor-ticks"].id' in job
    assert "data       = base64encode(jsonencode({}))" in job
    assert "schedule  = var.monitor.schedule" in job
    assert _variable_defaults("monitor")["schedule"] == '"* * * * *"'


def test_the_monitor_may_peek_at_every_dead_letter_pull_subscription() -> None:
    iam = _block(PUBSUB, 'resource "google_pubsub_subscription_iam_member"', "monitor_dead_letters")
    assert "for_each     = local.routes" in iam
    assert "google_pubsub_subscription.dead_letter_pull[each.key].id" in iam
    assert 'role         = "roles/pubsub.subscriber"' in iam
    assert "google_service_account.functions.email" in iam
    pull = _block(PUBSUB, 'resource "google_pubsub_subscription"', "dead_letter_pull")
    assert 'name     = "${each.key}-dead-letter-pull"' in pull  # the monitor's names


def test_subscribers_are_passed_as_json_only_when_given() -> None:
    assert re.search(r"length\(var\.alert_subscribers\) == 0 \? \{\} : \{", MAIN)
    assert "ALERT_SUBSCRIBERS = jsonencode({" in MAIN
    assert "subscribers = [" in MAIN
    block = _block(VARIABLES, "variable", "alert_subscribers")
    assert "type = list(object({" in block
    assert "default     = []" in block


def test_subscriber_secrets_are_mounted_on_alert_delivery_only() -> None:
    block = _block(VARIABLES, "variable", "subscriber_secrets")
    assert "type        = map(string)" in block
    mount = re.search(
        r'for_each = each\.key == "alert_delivery" \? local\.subscriber_secret_env : \{\}\n'
        r"\s+content \{\n\s+name = env\.key\n\s+value_source \{\n\s+secret_key_ref \{",
        MAIN,
    )
    assert mount is not None
    access = _block(MAIN, 'resource "google_secret_manager_secret_iam_member"', "alert_secrets")
    assert "merge(local.secret_env, local.subscriber_secret_env)" in access
    assert "roles/secretmanager.secretAccessor" in access
