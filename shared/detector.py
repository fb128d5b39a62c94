"""The detector port: image in, road-user detections out, plus what model made them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from shared.detections import Detections
from shared.errors import ModelError


@dataclass(frozen=True)
class ModelInfo:
    """Identity of a model, reported in every response and observation row."""

    name: str
    version: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        """JSON/BigQuery form."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


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


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_labels(path: Path) -> npt.NDArray[np.object_]:
    """Read ``<id> <name>`` lines into an array indexed by id (gaps named ``unknown``)."""
    try:
        pairs = [line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip()]
        mapping = {int(i): name.strip() for i, name in pairs}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read labels {path}: {exc}") from exc
    labels = np.full(max(mapping) + 1, "unknown", dtype=object)
    for i, name in mapping.items():
        labels[i] = name
    return labels
