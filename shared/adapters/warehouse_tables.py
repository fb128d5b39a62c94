"""Keeping BigQuery's tables and views in step with ``schemas/bigquery/``: create what is
missing, add the NULLABLE columns a table lacks (by DDL where the emulator needs it), replace a
view whose query changed."""

from __future__ import annotations

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.cloud import bigquery

from shared.errors import WarehouseRejectedError

# GoogleSQL DDL names of the REST field types (ALTER TABLE ... ADD COLUMN).
_DDL_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}


def ensure_table(
    client: bigquery.Client, spec: bigquery.Table, retry: Retry, again: bool = True
) -> None:
    """Create the table, or add the NULLABLE columns it lacks (one ``get_table`` when in step).

    Existing columns are never dropped or changed. A REQUIRED column missing from an existing
    table is a :class:`WarehouseRejectedError`: BigQuery cannot add one to a table with rows.
    """
    try:
        table = client.get_table(spec.reference, retry=retry)
    except gexc.NotFound:
        client.create_table(spec, exists_ok=True, retry=retry)
        return
    have = {f.name for f in table.schema}
    missing = [f for f in spec.schema if f.name not in have]
    if not missing:
        return
    required = [f.name for f in missing if f.mode == "REQUIRED"]
    if required:
        raise WarehouseRejectedError(
            f"BigQuery table {spec.table_id} lacks REQUIRED columns {required}: "
            "add them by hand or recreate the table (only NULLABLE columns are added)"
        )
    table.schema = [*table.schema, *missing]
    try:
        client.update_table(table, ["schema"], retry=retry)
    except gexc.PreconditionFailed:
        if not again:
            raise
        ensure_table(client, spec, retry, again=False)  # another instance changed it first
        return
    _add_columns_to_storage(client, spec.reference, missing, retry)


def _add_columns_to_storage(
    client: bigquery.Client,
    ref: bigquery.TableReference,
    fields: list[bigquery.SchemaField],
    retry: Retry,
) -> None:
    """Add ``fields`` by DDL where the schema patch did not reach the stored table.

    BigQuery needs only the patch; the emulator (bqemulator 1.4.0) patches its metadata but not
    its DuckDB table, and takes one ``ADD COLUMN`` per ``ALTER TABLE``. A free dry run tells.
    """
    table = f"`{ref.project}.{ref.dataset_id}.{ref.table_id}`"
    probe = f"SELECT {', '.join(f.name for f in fields)} FROM {table}"
    try:
        client.query(probe, job_config=bigquery.QueryJobConfig(dry_run=True), retry=retry)
        return
    except gexc.BadRequest:
        pass
    for field in fields:
        ddl = f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {field.name} {ddl_type(field)}"
        client.query(ddl, retry=retry).result(retry=retry)


def ddl_type(field: bigquery.SchemaField) -> str:
    """The GoogleSQL type of a REST schema field (``STRUCT<...>``, ``ARRAY<...>``)."""
    name = _DDL_TYPES.get(field.field_type, field.field_type)
    if name == "STRUCT":
        name = f"STRUCT<{', '.join(f'{f.name} {ddl_type(f)}' for f in field.fields)}>"
    return f"ARRAY<{name}>" if field.mode == "REPEATED" else name


def ensure_view(client: bigquery.Client, view_id: str, query: str, retry: Retry) -> None:
    """``CREATE OR REPLACE VIEW`` unless BigQuery already holds this query."""
    try:
        if (client.get_table(view_id, retry=retry).view_query or "").strip() == query:
            return
    except gexc.NotFound:
        pass
    client.query(f"CREATE OR REPLACE VIEW `{view_id}` AS\n{query}", retry=retry).result(retry=retry)
