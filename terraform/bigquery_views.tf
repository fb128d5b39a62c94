locals {
  # One source of truth: the same SQL files the code creates the views from, with
  # ${project} and ${dataset} filled in (shared/adapters/warehouse.py does the same).
  # Only schemas/bigquery/views/: the BigQuery ML statements of schemas/bigquery/ml/ are run
  # by the forecast job (terraform/forecast.tf), never created as views.
  views = {
    for f in fileset("${path.module}/../schemas/bigquery/views", "*.sql") :
    trimsuffix(f, ".sql") => "${path.module}/../schemas/bigquery/views/${f}"
  }
  # Views that read other views: created after them (warehouse.VIEWS has the same order;
  # tests/unit/test_forecast_terraform.py checks this list against what each file reads).
  derived_view_names = ["camera_latest", "forecast_series"]
  base_views         = { for k, v in local.views : k => v if !contains(local.derived_view_names, k) }
  derived_views      = { for k, v in local.views : k => v if contains(local.derived_view_names, k) }
}

# Views that read only tables.
resource "google_bigquery_table" "views" {
  for_each            = local.base_views
  dataset_id          = google_bigquery_dataset.camwatch.dataset_id
  table_id            = each.key
  deletion_protection = false # checkov:skip=CKV_GCP_121:a view holds no data; replaced with its SQL

  view {
    query = templatefile(each.value, {
      project = var.project_id
      dataset = google_bigquery_dataset.camwatch.dataset_id
    })
    use_legacy_sql = false
  }

  # A view is checked against its tables when it is created.
  depends_on = [google_bigquery_table.tables]
}

# Views that read the views above (camera_latest: violations_current; forecast_series:
# counts_15min and violations_hourly).
resource "google_bigquery_table" "derived_views" {
  for_each            = local.derived_views
  dataset_id          = google_bigquery_dataset.camwatch.dataset_id
  table_id            = each.key
  deletion_protection = false # checkov:skip=CKV_GCP_121:a view holds no data; replaced with its SQL

  view {
    query = templatefile(each.value, {
      project = var.project_id
      dataset = google_bigquery_dataset.camwatch.dataset_id
    })
    use_legacy_sql = false
  }

  depends_on = [google_bigquery_table.tables, google_bigquery_table.views]
}
