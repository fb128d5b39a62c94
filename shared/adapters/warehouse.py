"""The warehouse port and its adapter: BigQuery tables created from ``schemas/bigquery/*.json``.

Each table file holds ``description``, ``timePartitioning``, ``clustering`` and ``schema`` (the
BigQuery REST field list); Terraform reads the same files.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from shared.adapters.google_clients import client_options
from shared.domain.records import Row
from shared.errors import DependencyUnavailableError, WarehouseRejectedError
from shared.messages.schemas import SCHEMAS

TABLE_SCHEMAS = SCHEMAS / "bigquery"
TABLES = ("observations", "violations", "alerts")


class Warehouse(Protocol):
    """The warehouse port: idempotent-by-id row inserts and reachability."""

    def insert(self, rows: Sequence[Row]) -> None:
        """Insert rows of one table (ids as insertIds); DependencyUnavailableError when down."""
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


class BigQueryWarehouse:
    """Streams rows with insert ids; creates the dataset and tables on first use."""

    def __init__(
        self, client: bigquery.Client, dataset: str, location: str, timeout_s: float
    ) -> None:
        self._client = client
        self._dataset = f"{client.project}.{dataset}"
        self._location = location
        self._timeout = timeout_s
        self._retry = bigquery.DEFAULT_RETRY.with_deadline(timeout_s)
        self._ready = False
        self._lock = threading.Lock()

    def table_id(self, name: str) -> str:
        """Fully qualified ``project.dataset.table``."""
        return f"{self._dataset}.{name}"

    def ensure_tables(self) -> None:
        """Create the dataset and every table from ``schemas/`` (idempotent, once per instance)."""
        if self._ready:
            return
        with self._lock, _bigquery_errors():
            if self._ready:
                return
            dataset = bigquery.Dataset(self._dataset)
            dataset.location = self._location
            self._client.create_dataset(dataset, exists_ok=True, retry=self._retry)
            for name in TABLES:
                self._client.create_table(
                    table_spec(name, self.table_id(name)), exists_ok=True, retry=self._retry
                )
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

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query with scalar named parameters; rows as dicts."""
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(k, _param_type(v), v)
                for k, v in (params or {}).items()
            ]
        )
        with _bigquery_errors():
            job = self._client.query(sql, job_config=config, retry=self._retry)
            return [dict(row.items()) for row in job.result(timeout=self._timeout)]

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
