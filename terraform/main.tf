locals {
  # One source of truth: the same schema files the code creates the tables from.
  tables = {
    for f in fileset("${path.module}/../schemas/bigquery", "*.json") :
    trimsuffix(f, ".json") => jsondecode(file("${path.module}/../schemas/bigquery/${f}"))
  }
  env = merge(
    {
      PROJECT_ID              = var.project_id
      BIGQUERY_DATASET        = var.dataset
      BIGQUERY_LOCATION       = var.bigquery_location
      REDIS_HOST              = google_redis_instance.cache.host
      REDIS_PORT              = tostring(google_redis_instance.cache.port) # 6378 with TLS
      REDIS_TLS               = "true"
      REDIS_CA_FILE           = "${local.redis_ca_dir}/ca.pem"
      REGISTRY_PATH           = var.registry_path
      EVIDENCE_BUCKET         = google_storage_bucket.frames.name
      URL_SIGNER              = "iam"
      SIGNER_SERVICE_ACCOUNT  = google_service_account.functions.email
      EVIDENCE_URL_EXPIRY_S   = tostring(var.evidence.url_expiry_s)
      STORE_ORIGINAL_FRAMES   = tostring(var.evidence.store_originals)
      EVIDENCE_RETENTION_DAYS = tostring(var.evidence.retention_days.evidence)
      ORIGINAL_RETENTION_DAYS = tostring(var.evidence.retention_days.original)
      LATEST_RETENTION_DAYS   = tostring(var.evidence.retention_days.latest)
      WEBHOOK_URL             = var.alerts.webhook_url
      WEBHOOK_TIMEOUT_S       = tostring(var.alerts.webhook_timeout_s)
      ALERT_EMAIL_FROM        = var.alerts.email_from
      ALERT_EMAIL_TO          = join(",", var.alerts.email_to)
    },
    var.alerts.smtp_host == null ? {} : {
      SMTP_HOST = var.alerts.smtp_host
      SMTP_PORT = tostring(var.alerts.smtp_port)
    },
    var.alerts.smtp_username == null ? {} : { SMTP_USERNAME = var.alerts.smtp_username },
    length(var.alert_subscribers) == 0 ? {} : {
      # Unset attributes left out (the schema refuses nulls and empty recipient lists).
      ALERT_SUBSCRIBERS = jsonencode({
        subscribers = [
          for s in var.alert_subscribers : { for k, v in s : k => v if v != null && try(length(v), 1) > 0 }
        ]
      })
    },
    local.detector_env,
    var.settings,
    # Last, so that var.settings cannot turn it back on: the deployed functions read no
    # local files or videos (docs/reference/settings.md).
    { ALLOW_FILE_SOURCES = "false" },
  )
}

locals {
  # Secrets only the alert functions read, from Secret Manager (never in plain env or code):
  # alert_delivery sends every alert; the dispatchers keep them for the simple case.
  secret_env = merge(
    { WEBHOOK_SECRET = var.alerts.webhook_secret_id },
    var.alerts.smtp_password_secret_id == null ? {} : { SMTP_PASSWORD = var.alerts.smtp_password_secret_id },
  )
}

locals {
  secret_functions = ["alert_dispatcher", "anomaly_dispatcher", "alert_delivery"]
  # The subscribers' signing secrets: environment variable => secret id, on alert_delivery.
  subscriber_secret_env = var.subscriber_secrets
}

resource "google_secret_manager_secret_iam_member" "alert_secrets" {
  for_each  = merge(local.secret_env, local.subscriber_secret_env)
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.functions.email}"
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

# Evidence frames are written (and, on a retried violation, rewritten) by the functions.
resource "google_storage_bucket_iam_member" "evidence_writer" {
  bucket = google_storage_bucket.frames.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.functions.email}"
}

resource "google_redis_instance" "cache" {
  name           = "camwatch-cache"
  region         = var.region
  tier           = var.redis.tier
  memory_size_gb = var.redis.memory_size_gb
  redis_version  = var.redis.version
  # AUTH (the string goes to Secret Manager, secrets.tf) and TLS: the clients verify the
  # server against the instance's own CA (docs/security.md).
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"
}

resource "google_storage_bucket" "frames" {
  name                        = "${var.project_id}-camwatch-frames"
  location                    = var.region
  uniform_bucket_level_access = true
  # Evidence is read through signed URLs only: no IAM binding may make an object public.
  public_access_prevention = "enforced"

  # Each kind of stored image is deleted after its retention (docs/design/evidence.md); the
  # same figures reach the functions as CAMWATCH_*_RETENTION_DAYS. An overwritten object
  # (latest/) is a new object: its age counts from the last write.
  dynamic "lifecycle_rule" {
    for_each = local.retention_prefixes
    content {
      condition {
        age            = var.evidence.retention_days[lifecycle_rule.key]
        matches_prefix = [lifecycle_rule.value]
      }
      action {
        type = "Delete"
      }
    }
  }
}

locals {
  retention_prefixes = { evidence = "evidence/", original = "originals/", latest = "latest/" }
}

# Evidence URLs are signed with the IAM signBlob API as the functions' own service account
# (no key file): the account may sign for itself.
resource "google_service_account_iam_member" "functions_sign_urls" {
  service_account_id = google_service_account.functions.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.functions.email}"
}

locals {
  # One Cloud Run service per function, all from the same image (FUNCTION_TARGET picks it).
  # process_camera and predictions answer integrators: no Cloud Run invoker check, the app
  # authenticates every request (API keys, ID tokens: docs/auth.md). The event functions are
  # internal and IAM-only: roles/run.invoker for Pub/Sub's push identity (docs/security.md).
  integrator_functions = ["process_camera", "predictions"]
  functions = merge(
    { for f in local.integrator_functions : f => { ingress = "INGRESS_TRAFFIC_ALL", invoker_iam_disabled = true } },
    { for r in local.routes : r.function => { ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY", invoker_iam_disabled = false } },
  )
}

resource "google_cloud_run_v2_service" "functions" {
  for_each = local.functions
  name     = replace(each.key, "_", "-")
  location = var.region
  ingress  = each.value.ingress

  invoker_iam_disabled = each.value.invoker_iam_disabled

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

    volumes {
      name = "redis-ca"
      secret {
        secret = google_secret_manager_secret.redis_ca.secret_id
        items {
          version = "latest"
          path    = "ca.pem"
        }
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
      volume_mounts {
        name       = "redis-ca"
        mount_path = local.redis_ca_dir
      }
      env {
        name  = "FUNCTION_TARGET"
        value = each.key
      }
      env {
        # gunicorn's threads (functions-framework reads THREADS): as many as the requests Cloud
        # Run sends one instance at once, no more (make load serves process_camera the same way).
        name  = "THREADS"
        value = tostring(var.functions.concurrency)
      }
      dynamic "env" {
        for_each = local.env
        content {
          name  = "CAMWATCH_${env.key}"
          value = env.value
        }
      }
      dynamic "env" {
        for_each = merge(
          local.store_secret_env,
          contains(local.integrator_functions, each.key) ? local.integrator_secret_env : {},
        )
        content {
          name = "CAMWATCH_${env.key}"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
      dynamic "env" {
        for_each = contains(local.integrator_functions, each.key) ? merge(
          local.integrator_env, { ID_TOKEN_AUDIENCE = local.id_token_audience[each.key] },
        ) : {}
        content {
          name  = "CAMWATCH_${env.key}"
          value = env.value
        }
      }
      dynamic "env" {
        for_each = contains(local.secret_functions, each.key) ? local.secret_env : {}
        content {
          name = "CAMWATCH_${env.key}"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
      dynamic "env" {
        for_each = each.key == "alert_delivery" ? local.subscriber_secret_env : {}
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
      dynamic "startup_probe" {
        for_each = contains(local.integrator_functions, each.key) ? [1] : []
        content {
          http_get {
            path = "/health"
          }
        }
      }
    }
  }

  # Cloud Run refuses a revision whose secrets have no version or may not be read.
  depends_on = [
    google_secret_manager_secret_version.redis_auth,
    google_secret_manager_secret_version.redis_ca,
    google_secret_manager_secret_version.api_keys,
    google_secret_manager_secret_iam_member.functions_read,
  ]
}
