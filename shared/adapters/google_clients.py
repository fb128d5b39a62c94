"""The Google Cloud clients, made in one place: the real service, or an emulator.

An emulator endpoint (fake-gcs-server, the BigQuery emulator) gets anonymous credentials; the
real services use Application Default Credentials (the Cloud Run service account).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.auth.credentials import AnonymousCredentials

if TYPE_CHECKING:
    from google.cloud import bigquery, storage  # type: ignore[attr-defined]


def _emulator(endpoint: str | None) -> dict[str, Any]:
    if not endpoint:
        return {}
    return {
        "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
        "client_options": {"api_endpoint": endpoint},
    }


def storage_client(project_id: str, emulator_host: str | None) -> storage.Client:
    """Cloud Storage, or fake-gcs-server at ``emulator_host`` (imported only when asked for)."""
    from google.cloud import storage  # type: ignore[attr-defined]

    return storage.Client(project=project_id, **_emulator(emulator_host))


def bigquery_client(project_id: str, endpoint: str | None) -> bigquery.Client:
    """BigQuery, or the emulator at ``endpoint`` (imported only when asked for)."""
    from google.cloud import bigquery

    return bigquery.Client(project=project_id, **_emulator(endpoint))
