"""The detector port: image in, road-user detections out, plus what model made them."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from shared.domain.detections import Detections, ModelInfo


class Detector(Protocol):
    """Finds objects in one BGR image; boxes are in the image's own pixels."""

    @property
    def model(self) -> ModelInfo:
        """The model behind this detector."""
        ...

    def detect(self, image: npt.NDArray[np.uint8], encoded: bytes | None = None) -> Detections:
        """All detections the model reports (filtering by class/score is the caller's).

        ``encoded`` is the frame's own bytes when there are any: a remote detector sends
        them instead of re-encoding the image.
        """
        ...

    def detect_many(
        self, images: list[npt.NDArray[np.uint8]], encoded: list[bytes | None] | None = None
    ) -> list[Detections]:
        """:meth:`detect` for several images at once (a burst), in order: one batch run in
        process, one request of several ``instances`` to a remote service."""
        ...
