# The stores' and the integrators' secrets, in Secret Manager; Cloud Run mounts them into the
# functions (docs/security.md). Terraform writes the Redis ones from the instance itself; the
# API keys start empty and the city adds versions (docs/auth.md).

locals {
  # Where the Redis server CA is mounted (CAMWATCH_REDIS_CA_FILE is ca.pem in it).
  redis_ca_dir = "/secrets/redis-ca"
  # Environment variable => secret id, on every function.
  store_secret_env = { REDIS_PASSWORD = google_secret_manager_secret.redis_auth.secret_id }
  # On the integrator-facing functions only.
  integrator_secret_env = { API_KEYS = google_secret_manager_secret.api_keys.secret_id }
  integrator_env        = { ID_TOKEN_CALLERS = jsonencode({ callers = var.id_token_callers }) }
  # Each integrator service's own deterministic URL, the audience its ID tokens must name
  # (not the service's `uri` attribute: that would be a cycle).
  id_token_audience = {
    for f in local.integrator_functions :
    f => "https://${replace(f, "_", "-")}-${data.google_project.this.number}.${var.region}.run.app"
  }
}

resource "google_secret_manager_secret" "redis_auth" {
  secret_id = "redis-auth"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "redis_auth" {
  secret      = google_secret_manager_secret.redis_auth.id
  secret_data = google_redis_instance.cache.auth_string
}

resource "google_secret_manager_secret" "redis_ca" {
  secret_id = "redis-ca"
  replication {
    auto {}
  }
}

# The instance's server CA (PEM). After a CA rotation (Memorystore lists the new CA beside the
# old one), apply again so the functions trust the new one.
resource "google_secret_manager_secret_version" "redis_ca" {
  secret      = google_secret_manager_secret.redis_ca.id
  secret_data = google_redis_instance.cache.server_ca_certs[0].cert
}

# The integrators' API keys: the JSON of key entries (hashes only, docs/auth.md). Created
# empty; the city adds versions, the functions read "latest".
resource "google_secret_manager_secret" "api_keys" {
  secret_id = "api-keys"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "api_keys" {
  secret      = google_secret_manager_secret.api_keys.id
  secret_data = jsonencode({ keys = [] })

  lifecycle {
    ignore_changes = [secret_data]
  }
}

resource "google_secret_manager_secret_iam_member" "functions_read" {
  for_each = {
    redis_auth = google_secret_manager_secret.redis_auth.id
    redis_ca   = google_secret_manager_secret.redis_ca.id
    api_keys   = google_secret_manager_secret.api_keys.id
  }
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.functions.email}"
}
