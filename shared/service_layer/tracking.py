"""A camera's tracks in Redis: load, associate a frame's detections, save, in one transaction.

The tracks of a camera are one JSON document (``vision:camera:{id}:tracks``, TTL
``CAMWATCH_TRACK_TTL_S``, refreshed on each update). Two workers on the same camera at once
(a sweep and an HTTP call) are rare but possible, so the update is optimistic: ``WATCH`` the
key, associate, ``MULTI``/``SET``/``EXEC``; a lost race associates again on the winner's
tracks. Redis down raises DependencyUnavailableError, like the rest of the processor.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.adapters.cache import Cache
from shared.domain.detections import Detections
from shared.domain.tracks import CameraTracks, TrackConfig, Tracker, TrackUpdate
from shared.service_layer.idempotency import tracks_key
from shared.settings import Settings


def random_track_id() -> str:
    """A short random id (48 bits): unique per camera for any practical number of tracks."""
    return secrets.token_hex(6)


def track_config(settings: Settings) -> TrackConfig:
    """The association parameters of the settings (``CAMWATCH_TRACK_*``)."""
    return TrackConfig(
        min_iou=settings.track_min_iou,
        stationary_iou=settings.track_stationary_iou,
        max_gap_s=settings.track_max_gap_s,
    )


@dataclass
class CameraTracker:
    """Updates the cameras' tracks kept in the cache."""

    cache: Cache
    config: TrackConfig = field(default_factory=TrackConfig)
    ttl_s: int = 3600
    new_id: Callable[[], str] = random_track_id

    @classmethod
    def from_settings(cls, cache: Cache, settings: Settings) -> CameraTracker:
        """A tracker with the configured parameters and TTL."""
        return cls(cache, track_config(settings), settings.track_ttl_s)

    def observe(
        self, camera_id: str, frame_hash: str, detections: Detections, now_ms: int
    ) -> TrackUpdate:
        """Associate a frame's detections with the camera's open tracks and save them.

        Raises:
            DependencyUnavailableError: Redis is down (or lost every optimistic try).
        """
        tracker = Tracker(self.config, self.new_id)

        def change(current: str | None) -> tuple[str, TrackUpdate]:
            update = tracker.update(CameraTracks.from_json(current), frame_hash, detections, now_ms)
            return update.state.to_json(), update

        return self.cache.update(tracks_key(camera_id), change, self.ttl_s)

    def load(self, camera_id: str) -> CameraTracks:
        """The camera's open tracks as stored (none when the key expired)."""
        return CameraTracks.from_json(self.cache.get(tracks_key(camera_id)))
