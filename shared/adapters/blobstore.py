"""The blob store port (evidence frames, models, ``gs://`` camera frames) and its adapter:
Google Cloud Storage (fake-gcs-server locally)."""

from __future__ import annotations

from typing import Protocol

from google.api_core import exceptions as gexc
from google.cloud import storage  # type: ignore[attr-defined]
from google.cloud.storage.retry import DEFAULT_RETRY

from shared.adapters.deadlines import STORAGE_TIMEOUT_S, bounded
from shared.adapters.google_clients import client_options
from shared.errors import DependencyUnavailableError, FrameTooLargeError, FrameUnreachableError


def storage_client(project_id: str, emulator_host: str | None) -> storage.Client:
    """Cloud Storage, or fake-gcs-server at ``emulator_host``."""
    return storage.Client(project=project_id, **client_options(emulator_host))


class BlobReader(Protocol):
    """Reads one object (what ``gs://`` frames and models need)."""

    def read(self, bucket: str, name: str, max_bytes: int) -> bytes:
        """The object's bytes.

        Raises:
            FrameUnreachableError: no such object. FrameTooLargeError: over ``max_bytes``.
        """
        ...


class BlobStore(BlobReader, Protocol):
    """Reads and writes objects (evidence frames, models, ``gs://`` frames)."""

    def write(self, bucket: str, name: str, data: bytes, content_type: str) -> str:
        """Store the bytes; return their ``gs://`` URI."""
        ...

    def ping(self) -> None:
        """Raise DependencyUnavailableError if the store is down."""
        ...


class GcsBlobStore:
    """Reads and writes objects; transport failures are :class:`DependencyUnavailableError`."""

    def __init__(self, client: storage.Client, timeout_s: float = STORAGE_TIMEOUT_S) -> None:
        self._client = client
        self._timeout = timeout_s
        self._retry = bounded(DEFAULT_RETRY, timeout_s)  # not the 120 s default

    def read(self, bucket: str, name: str, max_bytes: int) -> bytes:
        """Download at most ``max_bytes`` (one ranged GET; one byte more means too large)."""
        blob = self._client.bucket(bucket).blob(name)
        try:
            data: bytes = blob.download_as_bytes(
                end=max_bytes, timeout=self._timeout, retry=self._retry
            )
        except gexc.NotFound as exc:
            raise FrameUnreachableError(f"no object gs://{bucket}/{name}") from exc
        except gexc.Forbidden as exc:
            raise FrameUnreachableError(
                f"no access to gs://{bucket}/{name}: {exc.message}"
            ) from exc
        except (gexc.GoogleAPIError, OSError) as exc:
            raise DependencyUnavailableError("storage", str(exc)) from exc
        if len(data) > max_bytes:
            raise FrameTooLargeError(f"gs://{bucket}/{name} is over {max_bytes} bytes")
        return data

    def write(self, bucket: str, name: str, data: bytes, content_type: str) -> str:
        """Upload an object and return its ``gs://`` URI."""
        try:
            self._client.bucket(bucket).blob(name).upload_from_string(
                data, content_type=content_type, timeout=self._timeout, retry=self._retry
            )
        except (gexc.GoogleAPIError, OSError) as exc:
            raise DependencyUnavailableError("storage", str(exc)) from exc
        return f"gs://{bucket}/{name}"

    def ping(self) -> None:
        """Cheapest authenticated call: list at most one bucket."""
        try:
            list(self._client.list_buckets(max_results=1, timeout=self._timeout, retry=self._retry))
        except (gexc.GoogleAPIError, OSError) as exc:
            raise DependencyUnavailableError("storage", str(exc)) from exc
