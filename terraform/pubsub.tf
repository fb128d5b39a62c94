locals {
  # The same file as shared/messages/topology.py: topics, functions, retry and dead-letter settings.
  routes = {
    for r in jsondecode(file("${path.module}/../schemas/pubsub/topology.json")).routes : r.topic => r
  }
}

resource "google_pubsub_topic" "topics" {
  for_each = local.routes
  name     = each.key
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.routes
  name     = "${each.key}-dead-letter"
}

resource "google_pubsub_subscription" "dead_letter_pull" {
  for_each = local.routes
  name     = "${each.key}-dead-letter-pull"
  topic    = google_pubsub_topic.dead_letter[each.key].id
}

resource "google_service_account" "push" {
  account_id   = "camwatch-pubsub-push"
  display_name = "camwatch Pub/Sub push (OIDC to Cloud Run)"
}

resource "google_pubsub_subscription" "push" {
  for_each             = local.routes
  name                 = "${each.key}-push"
  topic                = google_pubsub_topic.topics[each.key].id
  ack_deadline_seconds = each.value.ack_deadline_s

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.functions[each.value.function].uri}/projects/${var.project_id}/topics/${each.key}"
    oidc_token {
      service_account_email = google_service_account.push.email
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "${each.value.min_backoff_s}s"
    maximum_backoff = "${each.value.max_backoff_s}s"
  }
}

# The Pub/Sub service agent moves undeliverable messages: it publishes to the dead-letter
# topics and acknowledges on the source subscriptions.
data "google_project" "this" {}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.routes
  topic    = google_pubsub_topic.dead_letter[each.key].id
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "source_subscriber" {
  for_each     = local.routes
  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# The functions publish jobs and dead letters themselves.
resource "google_project_iam_member" "functions_publish" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.functions.email}"
}

resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = { for r in local.routes : r.function => google_cloud_run_v2_service.functions[r.function] }
  name     = each.value.name
  location = each.value.location
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

# Cloud Scheduler starts each sweep: one message on camera-sweep, the body `make run` publishes.
resource "google_cloud_scheduler_job" "sweep" {
  name      = "camwatch-sweep"
  region    = var.region
  schedule  = var.sweep.schedule
  time_zone = var.sweep.time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topics["camera-sweep"].id
    data       = base64encode(jsonencode(var.sweep.message))
  }
}

# Cloud Scheduler asks the monitor to evaluate the system alerts (docs/monitoring.md) every
# minute: one {} message on monitor-ticks, as the monitor_tick schema allows.
resource "google_cloud_scheduler_job" "monitor" {
  name      = "camwatch-monitor"
  region    = var.region
  schedule  = var.monitor.schedule
  time_zone = var.monitor.time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topics["monitor-ticks"].id
    data       = base64encode(jsonencode({}))
  }
}

# The monitor peeks at the dead-letter pull subscriptions (pull, then modify-ack to 0).
resource "google_pubsub_subscription_iam_member" "monitor_dead_letters" {
  for_each     = local.routes
  subscription = google_pubsub_subscription.dead_letter_pull[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.functions.email}"
}
