"""One exceptions module: a base error and specific subclasses.

Every error camwatch raises on purpose lives here. Each carries a machine-readable ``kind``,
unique across the module (a test checks it); HTTP status codes are chosen only at the HTTP edge
(``shared.entrypoints.edge``), Pub/Sub outcomes at the Pub/Sub edge (``shared.entrypoints.pubsub``).
"""

from __future__ import annotations


class CamwatchError(Exception):
    """Base class for every error camwatch raises on purpose."""

    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(CamwatchError):
    """Settings or the camera registry are invalid."""

    kind = "config"


class BadRequestError(CamwatchError):
    """The caller sent something malformed."""

    kind = "bad_request"


class PayloadTooLargeError(BadRequestError):
    """The request body is over the edge's size limit (HTTP 413)."""

    kind = "payload_too_large"


class InvalidJsonError(BadRequestError):
    """A body or message is not strict JSON, or nests deeper than CAMWATCH_MAX_JSON_DEPTH."""

    kind = "invalid_json"


class MethodNotAllowedError(BadRequestError):
    """The route exists but not for this HTTP method."""

    kind = "method_not_allowed"


class CameraNotFoundError(CamwatchError):
    """No camera with that id is registered."""

    kind = "camera_not_found"

    def __init__(self, camera_id: str, message: str | None = None) -> None:
        super().__init__(message or f"unknown camera {camera_id!r}")
        self.camera_id = camera_id


class DependencyUnavailableError(CamwatchError):
    """A backing service (Redis, BigQuery, storage, detector) is down: retry later."""

    kind = "dependency_unavailable"

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency} unavailable: {detail}")
        self.dependency = dependency


class FrameError(CamwatchError):
    """The camera could not give a usable frame. Recorded as a camera-health observation."""

    kind = "frame_error"


class FrameUnreachableError(FrameError):
    """Connection refused or reset, DNS failure, not HTTP, an HTTP error status, too many
    redirects, a missing file or object."""

    kind = "unreachable"


class FrameTimeoutError(FrameError):
    """The camera did not answer in time: the fetch's one deadline (connect + read timeout)
    passed, or it stayed silent for the read timeout."""

    kind = "timeout"


class FrameTooLargeError(FrameError):
    """The camera sent more bytes (or pixels) than the configured maximum."""

    kind = "too_large"


class FrameTooSmallError(FrameError):
    """The camera's frame is too small to detect anything (under the minimum side)."""

    kind = "too_small"


class NotAnImageError(FrameError):
    """The camera answered with something that is not an image (wrong content type or magic)."""

    kind = "not_image"


class FrameDecodeError(FrameError):
    """The bytes look like an image but cannot be decoded."""

    kind = "decode_error"


class ForbiddenSourceError(FrameError):
    """The source URL is not allowed (scheme, or an address such as the metadata server)."""

    kind = "forbidden_source"


class ModelError(CamwatchError):
    """The model file is missing or its inputs/outputs do not match the expected layout."""

    kind = "model_error"


class DeliveryFailedError(CamwatchError):
    """An alert channel (webhook, email) did not take the alert: Pub/Sub retries the message."""

    kind = "delivery_failed"

    def __init__(self, channel: str, detail: str) -> None:
        super().__init__(f"{channel} delivery failed: {detail}")
        self.channel = channel


class MessageRejectedError(CamwatchError):
    """A message that can never succeed: acknowledged, dead-lettered with this reason."""

    kind = "rejected"


class WarehouseRejectedError(CamwatchError):
    """BigQuery refused rows (a schema mismatch: a bug, not worth retrying)."""

    kind = "warehouse_rejected"


class OverloadedError(CamwatchError):
    """The inference queue is full: come back later (HTTP 429)."""

    kind = "overloaded"


class QueueTimeoutError(CamwatchError):
    """An inference request waited past its deadline (HTTP 503)."""

    kind = "queue_timeout"


class NotReadyError(CamwatchError):
    """The inference model is still loading or warming up (HTTP 503)."""

    kind = "not_ready"


class UnauthenticatedError(CamwatchError):
    """No credential, or one that is not valid: an unknown API key, a bad ID token (HTTP 401)."""

    kind = "unauthenticated"


class ForbiddenError(CamwatchError):
    """A valid caller without the scope of the route, or an ID token of an account not let in
    (HTTP 403)."""

    kind = "forbidden"


class RateLimitedError(CamwatchError):
    """The caller spent its requests per minute: retry after ``retry_after_s`` (HTTP 429)."""

    kind = "rate_limited"

    def __init__(self, caller: str, retry_after_s: int) -> None:
        super().__init__(f"{caller} is over its rate limit: retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s
