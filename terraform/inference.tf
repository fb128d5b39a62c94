# The inference service: Cloud Run with one GPU, the image of functions/inference/Dockerfile.
# The functions call it with an ID token (CAMWATCH_DETECTOR_BACKEND=service); the same image
# also deploys to a Vertex AI endpoint (CAMWATCH_DETECTOR_BACKEND=vertex; see
# docs/design/detection.md).
resource "google_cloud_run_v2_service" "inference" {
  count    = var.inference.enabled ? 1 : 0
  name     = "inference"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  template {
    service_account                  = google_service_account.functions.email
    max_instance_request_concurrency = var.inference.concurrency
    gpu_zonal_redundancy_disabled    = true

    scaling {
      min_instance_count = var.inference.min_instances
      max_instance_count = var.inference.max_instances
    }

    node_selector {
      accelerator = var.inference.gpu_type
    }

    containers {
      image = var.inference.image
      resources {
        limits = {
          cpu              = var.inference.cpu
          memory           = var.inference.memory
          "nvidia.com/gpu" = "1"
        }
        startup_cpu_boost = true
      }
      dynamic "env" {
        for_each = local.inference_env
        content {
          name  = "CAMWATCH_${env.key}"
          value = env.value
        }
      }
      # Ready only once the model is fetched, loaded and warmed up.
      startup_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 5
        failure_threshold = 60
      }
    }
  }
}

locals {
  inference_env = merge(
    {
      PROJECT_ID     = var.project_id
      MAX_BATCH_SIZE = tostring(var.inference.max_batch_size)
      MAX_WAIT_MS    = tostring(var.inference.max_wait_ms)
      MAX_QUEUE      = tostring(var.inference.max_queue)
    },
    var.inference.model_uri == null ? {} : { MODEL_URI = var.inference.model_uri },
    var.inference.model_sha256 == null ? {} : { MODEL_SHA256 = var.inference.model_sha256 },
  )
  # What the functions need to detect through the service.
  detector_env = var.inference.enabled ? {
    DETECTOR_BACKEND = "service"
    INFERENCE_URL    = google_cloud_run_v2_service.inference[0].uri
  } : {}
}

resource "google_cloud_run_v2_service_iam_member" "inference_invoker" {
  count    = var.inference.enabled ? 1 : 0
  name     = google_cloud_run_v2_service.inference[0].name
  location = google_cloud_run_v2_service.inference[0].location
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.functions.email}"
}
