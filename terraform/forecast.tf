# Retraining, scheduled: a forecast starts at the last training bucket, so the models are
# retrained and the forecasts rewritten every few hours; the anomalous intervals a run finds
# are published on the anomalies topic. A Cloud Run job runs the forecast job
# (python -m shared.entrypoints.forecast_job) from the functions' image with the functions'
# settings and the BigQuery ML backend; Cloud Scheduler starts it through the Cloud Run Admin
# API (POST .../jobs/NAME:run) with an OAuth token of its own service account.

locals {
  # The backend and the no-local-files rule come last: var.forecast.settings cannot undo them.
  forecast_env = merge(
    local.env,
    var.forecast.settings,
    { FORECAST_BACKEND = "bigquery_ml", ALLOW_FILE_SOURCES = "false" },
  )
}

resource "google_service_account" "forecast" {
  account_id   = "camwatch-forecast"
  display_name = "camwatch forecast job"
}

# Creates and replaces the models and writes forecasts, anomalies and their parts.
resource "google_bigquery_dataset_iam_member" "forecast_editor" {
  dataset_id = google_bigquery_dataset.camwatch.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.forecast.email}"
}

resource "google_project_iam_member" "forecast_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.forecast.email}"
}

# Publishes the anomalous intervals it finds (anomaly_dispatcher alerts them): that topic only.
resource "google_pubsub_topic_iam_member" "forecast_publisher" {
  topic  = google_pubsub_topic.topics["anomalies"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.forecast.email}"
}

resource "google_cloud_run_v2_job" "forecast" {
  name     = "camwatch-forecast"
  location = var.region

  template {
    task_count = 1

    template {
      service_account = google_service_account.forecast.email
      timeout         = "${var.forecast.timeout_s}s"
      max_retries     = var.forecast.max_retries

      containers {
        image   = var.image
        command = ["python", "-m", "shared.entrypoints.forecast_job"]
        resources {
          limits = {
            cpu    = var.forecast.cpu
            memory = var.forecast.memory
          }
        }
        dynamic "env" {
          for_each = local.forecast_env
          content {
            name  = "CAMWATCH_${env.key}"
            value = env.value
          }
        }
      }
    }
  }

  # The views the job reads exist before its first run.
  depends_on = [google_bigquery_table.derived_views]
}

# Cloud Scheduler's identity: may run this job, nothing else.
resource "google_service_account" "forecast_scheduler" {
  account_id   = "camwatch-forecast-scheduler"
  display_name = "camwatch forecast scheduler"
}

resource "google_cloud_run_v2_job_iam_member" "forecast_scheduler" {
  name     = google_cloud_run_v2_job.forecast.name
  location = google_cloud_run_v2_job.forecast.location
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.forecast_scheduler.email}"
}

resource "google_cloud_scheduler_job" "forecast" {
  name             = "camwatch-forecast"
  region           = var.region
  description      = "Retrain the forecasting models and rewrite forecasts and anomalies."
  schedule         = var.forecast.schedule
  time_zone        = var.forecast.time_zone
  attempt_deadline = "320s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.forecast.name}:run"

    oauth_token {
      service_account_email = google_service_account.forecast_scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.forecast_scheduler]
}
