"""The warehouse port and its adapter: BigQuery tables and views from ``schemas/bigquery/``.

Each table file holds ``description``, ``timePartitioning``, ``clustering`` and ``schema`` (the
BigQuery REST field list); each ``views/*.sql`` file is a GoogleSQL query with ``${project}`` and
``${dataset}`` placeholders. Terraform reads the same files (``terraform/main.tf``,
``terraform/bigquery_views.tf``).
"""

from __future__ import annotations

import json
import string
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from google.api_core import exceptions as gexc
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

from shared.adapters.deadlines import bounded
from shared.adapters.google_clients import client_options
from shared.adapters.warehouse_tables import ensure_table, ensure_view
from shared.domain.records import Row
from shared.errors import DependencyUnavailableError, WarehouseRejectedError
from shared.messages.schemas import SCHEMAS

TABLE_SCHEMAS = SCHEMAS / "bigquery"
VIEW_QUERIES = TABLE_SCHEMAS / "views"
TABLES = (
    "observations",
    "violations",
    "alerts",
    "forecasts",
    "anomalies",
    "forecast_components",
    "forecast_status",
)
# In dependency order: a view is created after the views it reads.
VIEWS = (
    "violations_current",
    "counts_15min",
    "violations_hourly",
    "camera_coverage",
    "camera_latest",
    "forecast_series",
)
VIEW_PLACEHOLDERS = frozenset({"project", "dataset"})

# Each pipeline table's row id as SQL (a row's ``row_id``; violations' later events add their
# sequence number), for :meth:`BigQueryWarehouse.contains`.
ROW_ID_SQL = {
    "observations": "observation_id",
    "violations": "IF(event_seq > 0, CONCAT(violation_id, '.', CAST(event_seq AS STRING)), "
    "violation_id)",
    "alerts": "violation_id",
}


class Warehouse(Protocol):
    """The warehouse port: idempotent-by-id row inserts and reachability."""

    def insert(self, rows: Sequence[Row]) -> None:
        """Insert rows of one table (ids as insertIds); DependencyUnavailableError when down."""
        ...

    def contains(self, row: Row) -> bool:
        """Whether ``row`` (by its id) is in its table already."""
        ...

    def ping(self) -> None:
        """Raise DependencyUnavailableError if the warehouse is down."""
        ...


def bigquery_client(project_id: str, endpoint: str | None) -> bigquery.Client:
    """BigQuery, or the emulator at ``endpoint``."""
    return bigquery.Client(project=project_id, **client_options(endpoint))


def table_spec(name: str, table_id: str) -> bigquery.Table:
    """A :class:`bigquery.Table` built from its schema file."""
    spec = json.loads((TABLE_SCHEMAS / f"{name}.json").read_text())
    table = bigquery.Table(
        table_id, schema=[bigquery.SchemaField.from_api_repr(f) for f in spec["schema"]]
    )
    table.description = spec["description"]
    part = spec["timePartitioning"]
    table.time_partitioning = bigquery.TimePartitioning(type_=part["type"], field=part["field"])
    table.clustering_fields = spec["clustering"]
    return table


def view_query(name: str, project: str, dataset: str) -> str:
    """The view's SQL with ``${project}`` and ``${dataset}`` filled in."""
    text = (VIEW_QUERIES / f"{name}.sql").read_text()
    return string.Template(text).substitute(project=project, dataset=dataset).strip()


class BigQueryWarehouse:
    """Streams rows with insert ids; creates the dataset and tables on first use."""

    def __init__(
        self,
        client: bigquery.Client,
        dataset: str,
        location: str,
        timeout_s: float,
        job_timeout_s: float | None = None,
    ) -> None:
        """``timeout_s`` bounds each API call; ``job_timeout_s`` (default ``timeout_s``) the wait
        for a query's result: the forecast job gives it minutes, as training a model takes."""
        self._client = client
        self._dataset = f"{client.project}.{dataset}"
        self._dataset_name = dataset
        self._location = location
        self._timeout = timeout_s
        self._job_timeout = job_timeout_s or timeout_s
        self._retry = bounded(bigquery.DEFAULT_RETRY, timeout_s)  # not 600 s
        # a failed query job is run again until this deadline, not for 2400 s
        self._job_retry = bounded(DEFAULT_JOB_RETRY, self._job_timeout)
        self._ready = False
        self._lock = threading.Lock()

    def table_id(self, name: str) -> str:
        """Fully qualified ``project.dataset.table``."""
        return f"{self._dataset}.{name}"

    def ensure_tables(self) -> None:
        """Create the dataset, tables and views from ``schemas/`` (idempotent, once per instance).

        An existing table gets the NULLABLE columns it lacks (see :func:`ensure_table`).
        """
        if self._ready:
            return
        with self._lock, _bigquery_errors():
            if self._ready:
                return
            dataset = bigquery.Dataset(self._dataset)
            dataset.location = self._location
            self._client.create_dataset(dataset, exists_ok=True, retry=self._retry)
            for name in TABLES:
                ensure_table(self._client, table_spec(name, self.table_id(name)), self._retry)
            for name in VIEWS:
                query = view_query(name, self._client.project, self._dataset_name)
                ensure_view(self._client, self.table_id(name), query, self._retry)
            self._ready = True

    def insert(self, rows: Sequence[Row]) -> None:
        """Stream records of one table; their row ids become insertIds (best-effort dedup)."""
        if rows:
            self.insert_rows(rows[0].table, [r.as_row() for r in rows], [r.row_id for r in rows])

    def insert_rows(self, table: str, rows: list[dict[str, Any]], row_ids: list[str]) -> None:
        """Stream plain rows with their ids (tools and tests; the pipeline inserts records)."""
        self.ensure_tables()
        with _bigquery_errors():
            errors = self._client.insert_rows_json(
                self.table_id(table),
                rows,
                row_ids=row_ids,
                retry=self._retry,
                timeout=self._timeout,
            )
        if errors:
            raise WarehouseRejectedError(f"BigQuery rejected rows in {table}: {errors[:3]}")

    def contains(self, row: Row) -> bool:
        """Whether ``row``'s id is in its table, written up to a day before the row's event
        time (a later attempt of the same work has a later event time; two partitions at
        most are read)."""
        self.ensure_tables()
        sql = (
            f"SELECT COUNT(*) AS n FROM `{self.table_id(row.table)}` "
            f"WHERE {ROW_ID_SQL[row.table]} = @id AND event_time <= TIMESTAMP(@t) "
            "AND event_time >= TIMESTAMP_SUB(TIMESTAMP(@t), INTERVAL 1 DAY)"
        )
        [found] = self.query(sql, {"id": row.row_id, "t": row.as_row()["event_time"]})
        return int(found["n"]) > 0

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query with scalar named parameters; rows as dicts."""
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(k, _param_type(v), v)
                for k, v in (params or {}).items()
            ]
        )
        with _bigquery_errors():
            job = self._client.query(
                sql, job_config=config, retry=self._retry, job_retry=self._job_retry
            )
            rows = job.result(timeout=self._job_timeout, job_retry=self._job_retry)
            return [dict(row.items()) for row in rows]

    def model_version(self, model_id: str) -> str:
        """A BigQuery ML model's version: its etag (new with every ``CREATE OR REPLACE``),
        else its last-modified time."""
        with _bigquery_errors():
            model = self._client.get_model(model_id, retry=self._retry)
        if model.etag:
            return str(model.etag).strip('"')  # an HTTP etag, quoted
        return model.modified.isoformat() if model.modified else "unknown"

    def ping(self) -> None:
        """List at most one dataset of the project (reachable even before the first write)."""
        with _bigquery_errors():
            list(
                self._client.list_datasets(max_results=1, retry=self._retry, timeout=self._timeout)
            )


@contextmanager
def _bigquery_errors() -> Iterator[None]:
    """Map client errors: a refusal is :class:`WarehouseRejectedError`, the rest unavailability."""
    try:
        yield
    except (gexc.NotFound, gexc.BadRequest) as exc:
        raise WarehouseRejectedError(f"BigQuery: {exc}") from exc
    except (gexc.GoogleAPIError, OSError) as exc:
        raise DependencyUnavailableError("bigquery", str(exc)) from exc


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    return "STRING"
