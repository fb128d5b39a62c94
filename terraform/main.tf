locals {
  # One source of truth: the same schema files the code creates the tables from.
  tables = {
    for f in fileset("${path.module}/../schemas/bigquery", "*.json") :
    trimsuffix(f, ".json") => jsondecode(file("${path.module}/../schemas/bigquery/${f}"))
  }
  env = merge(
    {
      PROJECT_ID        = var.project_id
      BIGQUERY_DATASET  = var.dataset
      BIGQUERY_LOCATION = var.bigquery_location
      REDIS_HOST        = google_redis_instance.cache.host
      REDIS_PORT        = tostring(google_redis_instance.cache.port)
      REGISTRY_PATH     = var.registry_path
    },
    var.settings,
  )
}

resource "google_service_account" "functions" {
  account_id   = "camwatch-functions"
  display_name = "camwatch functions"
}

resource "google_project_iam_member" "functions" {
  for_each = toset(["roles/bigquery.dataEditor", "roles/bigquery.jobUser", "roles/storage.objectViewer"])
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.functions.email}"
}

resource "google_bigquery_dataset" "camwatch" {
  dataset_id  = var.dataset
  location    = var.bigquery_location
  description = "camwatch observations and violations."
}

resource "google_bigquery_table" "tables" {
  for_each            = local.tables
  dataset_id          = google_bigquery_dataset.camwatch.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = jsonencode(each.value.schema)
  clustering          = each.value.clustering
  deletion_protection = true

  time_partitioning {
    type  = each.value.timePartitioning.type
    field = each.value.timePartitioning.field
  }
}

resource "google_redis_instance" "cache" {
  name           = "camwatch-cache"
  region         = var.region
  tier           = var.redis.tier
  memory_size_gb = var.redis.memory_size_gb
  redis_version  = var.redis.version
}

resource "google_storage_bucket" "frames" {
  name                        = "${var.project_id}-camwatch-frames"
  location                    = var.region
  uniform_bucket_level_access = true

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
}

locals {
  # One Cloud Run service per function, all from the same image (FUNCTION_TARGET picks it).
  # process_camera answers integrators; the event functions only Pub/Sub push.
  functions = merge(
    { process_camera = { ingress = "INGRESS_TRAFFIC_ALL" } },
    { for r in local.routes : r.function => { ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY" } },
  )
}

resource "google_cloud_run_v2_service" "functions" {
  for_each = local.functions
  name     = replace(each.key, "_", "-")
  location = var.region
  ingress  = each.value.ingress

  template {
    service_account                  = google_service_account.functions.email
    max_instance_request_concurrency = var.functions.concurrency
    timeout                          = "${var.functions.timeout_s}s"

    scaling {
      min_instance_count = var.functions.min_instances
      max_instance_count = var.functions.max_instances
    }

    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network = google_redis_instance.cache.authorized_network
      }
    }

    containers {
      image = var.image
      resources {
        limits = {
          cpu    = var.functions.cpu
          memory = var.functions.memory
        }
      }
      env {
        name  = "FUNCTION_TARGET"
        value = each.key
      }
      dynamic "env" {
        for_each = local.env
        content {
          name  = "CAMWATCH_${env.key}"
          value = env.value
        }
      }
      dynamic "startup_probe" {
        for_each = each.key == "process_camera" ? [1] : []
        content {
          http_get {
            path = "/health"
          }
        }
      }
    }
  }
}
