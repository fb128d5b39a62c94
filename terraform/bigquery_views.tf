locals {
  # One source of truth: the same SQL files the code creates the views from, with
  # ${project} and ${dataset} filled in (shared/adapters/warehouse.py does the same).
  views = {
    for f in fileset("${path.module}/../schemas/bigquery/views", "*.sql") :
    trimsuffix(f, ".sql") => "${path.module}/../schemas/bigquery/views/${f}"
  }
}

resource "google_bigquery_table" "views" {
  for_each            = local.views
  dataset_id          = google_bigquery_dataset.camwatch.dataset_id
  table_id            = each.key
  deletion_protection = false

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
