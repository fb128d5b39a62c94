variable "project_id" {
  type        = string
  description = "Google Cloud project that runs camwatch."
}

variable "region" {
  type        = string
  description = "Region of Cloud Run, Memorystore and the bucket."
  default     = "europe-west1"
}

variable "image" {
  type        = string
  description = "Container image of the functions (functions/Dockerfile), e.g. REGION-docker.pkg.dev/PROJECT/camwatch/functions:TAG."
}

variable "dataset" {
  type        = string
  description = "BigQuery dataset of the observations and violations tables."
  default     = "camwatch"
}

variable "bigquery_location" {
  type        = string
  description = "BigQuery dataset location."
  default     = "EU"
}

variable "registry_path" {
  type        = string
  description = "Camera registry YAML inside the image (CAMWATCH_REGISTRY_PATH)."
  default     = "/app/shared/assets/cameras.yaml"
}

variable "redis" {
  type = object({
    tier           = optional(string, "STANDARD_HA") # a replica: a failover keeps the claims
    memory_size_gb = optional(number, 1)
    version        = optional(string, "REDIS_7_0")
  })
  description = "Memorystore Redis instance settings. STANDARD_HA keeps the keys through a failover or maintenance; BASIC costs half and forgets every claim on a restart, after which a redelivered job can write a second row (docs/faults.md)."
  default     = {}
}

variable "functions" {
  type = object({
    cpu           = optional(string, "2")
    memory        = optional(string, "2Gi")
    min_instances = optional(number, 0)
    max_instances = optional(number, 20)
    concurrency   = optional(number, 8)
    timeout_s     = optional(number, 60)
  })
  description = "Cloud Run settings of the function services (process_camera, sweep, camera_worker)."
  default     = {}
}

variable "settings" {
  type        = map(string)
  description = "Extra CAMWATCH_* environment variables (names without the prefix), e.g. { SCORE_THRESHOLD = \"0.5\" }."
  default     = {}
}

variable "alerts" {
  type = object({
    webhook_url             = string
    webhook_secret_id       = string
    smtp_host               = optional(string)
    smtp_port               = optional(number, 587)
    smtp_username           = optional(string)
    smtp_password_secret_id = optional(string)
    email_from              = optional(string, "camwatch@localhost")
    email_to                = optional(list(string), [])
    webhook_timeout_s       = optional(number, 10)
  })
  description = "Alert channels (the simple case: one webhook and one email subscriber). Secrets are Secret Manager secret ids (their latest version is mounted as an env var): the webhook signing secret holds `whsec_<base64>`."
}

variable "evidence" {
  type = object({
    url_expiry_s    = optional(number, 259200)
    store_originals = optional(bool, false)
    retention_days = optional(object({
      evidence = optional(number, 30)
      original = optional(number, 7)
      latest   = optional(number, 2)
    }), {})
  })
  description = "Evidence images (docs/design/evidence.md): the lifetime of the signed URL in alerts (seconds, at most 604800), whether unblurred originals are kept, and the days each kind is kept (the bucket's lifecycle rules)."
  default     = {}
}

variable "sweep" {
  type = object({
    schedule  = optional(string, "*/5 * * * *")
    time_zone = optional(string, "Etc/UTC")
    message   = optional(map(list(string)), {})
  })
  description = "Cloud Scheduler's sweep: cron schedule, time zone and the camera-sweep message ({} sweeps every camera; { cameras = [...] } some)."
  default     = {}
}

variable "inference" {
  type = object({
    enabled        = optional(bool, true)
    image          = optional(string)
    gpu_type       = optional(string, "nvidia-l4")
    cpu            = optional(string, "4")
    memory         = optional(string, "16Gi")
    min_instances  = optional(number, 0)
    max_instances  = optional(number, 3)
    concurrency    = optional(number, 64)
    model_uri      = optional(string)
    model_sha256   = optional(string)
    max_batch_size = optional(number, 8)
    max_wait_ms    = optional(number, 5)
    max_queue      = optional(number, 128)
  })
  description = "The GPU inference service (Cloud Run): image of functions/inference/Dockerfile, GPU type, model gs:// URI and sha256, batching. Disabled: the functions detect in process."
  default     = { enabled = false }

  validation {
    condition     = !var.inference.enabled || var.inference.image != null
    error_message = "inference.image (built from functions/inference/Dockerfile) is required when inference.enabled."
  }
}

variable "forecast" {
  type = object({
    schedule    = optional(string, "0 */6 * * *")
    time_zone   = optional(string, "Etc/UTC")
    cpu         = optional(string, "1")
    memory      = optional(string, "1Gi")
    timeout_s   = optional(number, 3600)
    max_retries = optional(number, 1)
    settings    = optional(map(string), {})
  })
  description = "The scheduled forecast job (Cloud Run job, BigQuery ML backend): cron schedule (default every 6 hours) and time zone, resources, and extra CAMWATCH_* settings of the job only, e.g. { FORECAST_HORIZON_H = \"48\" }."
  default     = {}
}

variable "alert_subscribers" {
  type = list(object({
    name         = string
    url          = optional(string)
    email        = optional(list(string))
    secret_env   = optional(string)
    format       = optional(string)
    min_severity = optional(string)
    event_types  = optional(list(string))
    cameras      = optional(list(string))
  }))
  description = "Alert subscribers (docs/alerts.md, schemas/alert_subscribers.schema.json), passed as CAMWATCH_ALERT_SUBSCRIBERS. Empty: the simple case (alerts.webhook_url and alerts.email_to)."
  default     = []
}

variable "subscriber_secrets" {
  type        = map(string)
  description = "Signing secrets of the subscribers: environment variable (a subscriber's secret_env) => Secret Manager secret id, mounted on alert_delivery (latest version)."
  default     = {}
}

variable "monitor" {
  type = object({
    schedule  = optional(string, "* * * * *")
    time_zone = optional(string, "Etc/UTC")
  })
  description = "Cloud Scheduler's monitor tick (docs/monitoring.md): the system alerts are evaluated on each monitor-ticks message."
  default     = {}
}

variable "id_token_callers" {
  type = list(object({
    email      = string
    name       = string
    scopes     = list(string)
    per_minute = number
  }))
  description = "Google service accounts that may call the integrator functions with an ID token (docs/auth.md): their email, a name for logs and limits, their scopes and requests per minute."
  default     = []
}
