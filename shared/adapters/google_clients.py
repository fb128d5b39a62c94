"""What every Google Cloud client of camwatch shares: the real service, or an emulator.

An emulator endpoint (fake-gcs-server, the BigQuery emulator) gets anonymous credentials; the
real services use Application Default Credentials (the Cloud Run service account). Each
adapter builds its own client with :func:`client_options`, so importing one adapter never
imports another service's client library.
"""

from __future__ import annotations

from typing import Any

from google.auth.credentials import AnonymousCredentials


def client_options(endpoint: str | None) -> dict[str, Any]:
    """Keyword arguments of a ``google.cloud`` client for ``endpoint`` (None: the cloud)."""
    if not endpoint:
        return {}
    return {
        "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
        "client_options": {"api_endpoint": endpoint},
    }
