"""The event bus port and its adapter: Google Cloud Pub/Sub (the emulator via
``PUBSUB_EMULATOR_HOST``); and a peek at the dead-letter pull subscriptions (the monitor)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent import futures
from contextlib import suppress
from typing import Protocol

from google.api_core import exceptions as gexc
from google.auth.exceptions import GoogleAuthError
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.deadlines import (
    PEEK_TIMEOUT_S,
    PUBLISH_RPC_TIMEOUT_S,
    PUBLISH_TIMEOUT_S,
    publish_retry,
)
from shared.domain.records import Message
from shared.errors import DependencyUnavailableError
from shared.messages.schemas import validate


class EventBus(Protocol):
    """Publishes JSON messages, and raw bytes for dead letters."""

    def publish(self, topic: str, messages: Sequence[Message], **attributes: str) -> list[str]:
        """Check each message against its schema, publish, return the message ids."""
        ...

    def publish_raw(self, topic: str, data: bytes, **attributes: str) -> str:
        """Publish bytes as they are (a rejected message to its dead-letter topic)."""
        ...


class PubSubBus:
    """Batched publishing; waits for every message id before returning."""

    def __init__(self, project_id: str, timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
        self._project = project_id
        self._timeout = timeout_s
        self._client: pubsub_v1.PublisherClient | None = None

    def _publisher(self) -> pubsub_v1.PublisherClient:
        if self._client is None:  # created on first use, never at import
            self._client = pubsub_v1.PublisherClient(
                # 2 ms: a sweep's jobs still go in batches; a lone alert does not wait 10 ms
                batch_settings=pubsub_v1.types.BatchSettings(max_messages=100, max_latency=0.002),
                # the client's own retry gives up with us, not 600 s later in the background
                publisher_options=pubsub_v1.types.PublisherOptions(
                    retry=publish_retry(self._timeout), timeout=PUBLISH_RPC_TIMEOUT_S
                ),
            )
        return self._client

    def publish(self, topic: str, messages: Sequence[Message], **attributes: str) -> list[str]:
        """Check each message against its schema, publish, return the message ids."""
        payloads = [validate(m.schema, m.as_message()) for m in messages]
        return self._send(topic, [json.dumps(p).encode() for p in payloads], attributes)

    def publish_raw(self, topic: str, data: bytes, **attributes: str) -> str:
        """Publish bytes as they are."""
        return self._send(topic, [data], attributes)[0]

    def _send(self, topic: str, blobs: list[bytes], attributes: dict[str, str]) -> list[str]:
        publisher = self._publisher()
        path = publisher.topic_path(self._project, topic)
        try:
            pending = [publisher.publish(path, blob, **attributes) for blob in blobs]
            _done, not_done = futures.wait(pending, timeout=self._timeout)
            if not_done:
                raise DependencyUnavailableError("pubsub", f"{len(not_done)} publishes timed out")
            return [str(f.result()) for f in pending]
        except (gexc.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise DependencyUnavailableError("pubsub", str(exc)) from exc


class DeadLetters(Protocol):
    """How many messages wait on dead-letter pull subscriptions."""

    def pending(self, subscriptions: Sequence[str]) -> dict[str, int]:
        """Per subscription, the messages seen (at most 100 each); a failed peek is left out."""
        ...


class PubSubDeadLetters:
    """Peeks: pulls up to 100 messages without acknowledging them and releases them at once
    (ack deadline 0), so they stay for whoever handles dead letters."""

    MAX_MESSAGES = 100

    def __init__(self, project_id: str, timeout_s: float = PEEK_TIMEOUT_S) -> None:
        self._project = project_id
        self._timeout = timeout_s
        self._client: pubsub_v1.SubscriberClient | None = None

    def _subscriber(self) -> pubsub_v1.SubscriberClient:
        if self._client is None:  # created on first use, never at import
            self._client = pubsub_v1.SubscriberClient()
        return self._client

    def pending(self, subscriptions: Sequence[str]) -> dict[str, int]:
        """Peek every subscription at once (one deadline for all); a failed one is left out."""
        if not subscriptions:
            return {}
        with futures.ThreadPoolExecutor(max_workers=min(8, len(subscriptions))) as pool:
            jobs = {s: pool.submit(self.peek, s) for s in subscriptions}
            counts: dict[str, int] = {}
            for sub, job in jobs.items():
                try:
                    counts[sub] = job.result(timeout=self._timeout + 5)
                except (DependencyUnavailableError, futures.TimeoutError):
                    continue
        return counts

    def peek(self, subscription: str) -> int:
        """The messages waiting on one subscription (at most :attr:`MAX_MESSAGES`)."""
        client = self._subscriber()
        path = client.subscription_path(self._project, subscription)
        try:
            answer = client.pull(
                request={"subscription": path, "max_messages": self.MAX_MESSAGES},
                timeout=self._timeout,
                retry=None,
            )
        except gexc.DeadlineExceeded:
            return 0  # an empty subscription makes a pull wait: nothing pending
        except (gexc.GoogleAPIError, GoogleAuthError, OSError) as exc:
            raise DependencyUnavailableError("pubsub", f"{subscription}: {exc}") from exc
        ack_ids = [m.ack_id for m in answer.received_messages]
        # Released at once; if that fails they come back after the ack deadline anyway.
        if ack_ids:
            with suppress(gexc.GoogleAPIError, OSError):
                client.modify_ack_deadline(
                    request={"subscription": path, "ack_ids": ack_ids, "ack_deadline_seconds": 0},
                    timeout=self._timeout,
                )
        return len(ack_ids)
