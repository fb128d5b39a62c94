output "process_camera_url" {
  description = "Base URL of POST /process/camera/{id}."
  value       = google_cloud_run_v2_service.functions["process_camera"].uri
}

output "predictions_url" {
  description = "Base URL of GET /predictions/{camera_id} and POST /predictions/bulk."
  value       = google_cloud_run_v2_service.functions["predictions"].uri
}

output "tables" {
  description = "Fully qualified BigQuery tables, by name."
  value       = { for k, t in google_bigquery_table.tables : k => "${var.project_id}.${t.dataset_id}.${t.table_id}" }
}

output "redis_host" {
  description = "Memorystore Redis host (private IP)."
  value       = google_redis_instance.cache.host
}

output "frames_bucket" {
  description = "Bucket for gs:// frames and evidence."
  value       = google_storage_bucket.frames.name
}

output "inference_url" {
  description = "Base URL of the GPU inference service (POST /predict, GET /health); null when disabled."
  value       = var.inference.enabled ? google_cloud_run_v2_service.inference[0].uri : null
}

output "views" {
  description = "Fully qualified BigQuery views, by name."
  value = {
    for k, t in merge(google_bigquery_table.views, google_bigquery_table.derived_views) :
    k => "${var.project_id}.${t.dataset_id}.${t.table_id}"
  }
}

output "forecast_job" {
  description = "The Cloud Run job that retrains the forecasting models, and its schedule."
  value = {
    job      = google_cloud_run_v2_job.forecast.name
    schedule = google_cloud_scheduler_job.forecast.schedule
  }
}
