"""Detections: parallel numpy arrays filled by the layout decoders, and the model that made them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.domain.registry import ROAD_USERS

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ModelInfo:
    """Identity of a model, reported in every response and observation row."""

    name: str
    version: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        """JSON/BigQuery form."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ModelInfo:
        """Inverse of :meth:`as_dict` (a cached result, a service's answer)."""
        return cls(str(data["name"]), str(data["version"]), str(data["sha256"]))


@dataclass(frozen=True)
class Detections:
    """Boxes in original-image pixels ``(x1, y1, x2, y2)`` with scores and classes.

    Attributes:
        xyxy: ``(N, 4)`` float32 boxes.
        confidence: ``(N,)`` float32 scores in 0..1.
        class_id: ``(N,)`` int64 class ids of the model's label map.
        class_name: ``(N,)`` object array of label names.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    class_name: npt.NDArray[np.object_] = field(default_factory=lambda: np.empty(0, dtype=object))

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4) or not (
            len(self.confidence) == len(self.class_id) == len(self.class_name) == n
        ):
            raise ValueError("detections arrays must be parallel: xyxy (N,4), others (N,)")

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(
            np.empty((0, 4), np.float32),
            np.empty(0, np.float32),
            np.empty(0, np.int64),
            np.empty(0, dtype=object),
        )

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        """Concatenate several containers."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.class_name for p in parts]),
        )

    @classmethod
    def from_raw(
        cls,
        xyxy: npt.NDArray[Any],
        scores: npt.NDArray[Any],
        class_id: npt.NDArray[Any],
        labels: npt.NDArray[np.object_],
    ) -> Detections:
        """Boxes (original pixels), scores and class ids from a layout decoder.

        Args:
            labels: names indexed by class id; an id outside them is named ``unknown``.
        """
        ids = np.asarray(class_id, np.int64).reshape(-1)
        known = (ids >= 0) & (ids < len(labels))
        names = np.where(known, labels[np.clip(ids, 0, len(labels) - 1)], "unknown")
        return cls(
            np.asarray(xyxy, np.float32).reshape(-1, 4),
            np.asarray(scores, np.float32).reshape(-1),
            ids,
            names.astype(object),
        )

    def filter(self, mask: npt.NDArray[np.bool_]) -> Detections:
        """Keep the rows where ``mask`` is true."""
        return Detections(
            self.xyxy[mask], self.confidence[mask], self.class_id[mask], self.class_name[mask]
        )

    def keep(self, classes: Sequence[str], min_score: float) -> Detections:
        """Road users of the given classes at or above a score."""
        mask = np.isin(self.class_name, list(classes)) & (self.confidence >= min_score)
        return self.filter(mask)

    def counts(self) -> dict[str, int]:
        """Detections per road-user class (all six, zero included)."""
        names, n = np.unique(self.class_name.astype(str), return_counts=True)
        found = dict(zip(names.tolist(), n.tolist(), strict=True))
        return {name: int(found.get(name, 0)) for name in ROAD_USERS}

    def to_records(self) -> list[dict[str, Any]]:
        """Plain dicts for JSON and BigQuery: class, score and box rounded to 0.1 px."""
        boxes = np.round(self.xyxy.astype(np.float64), 1).tolist()
        return [
            {
                "class_id": int(c),
                "class_name": str(name),
                "score": round(float(s), 4),
                "box": {"x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3]},
            }
            for c, name, s, b in zip(
                self.class_id.tolist(),
                self.class_name,
                self.confidence.tolist(),
                boxes,
                strict=True,
            )
        ]

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]]) -> Detections:
        """Inverse of :meth:`to_records` (used for cached results)."""
        if not records:
            return cls.empty()
        return cls(
            np.array(
                [[r["box"][k] for k in ("x1", "y1", "x2", "y2")] for r in records], np.float32
            ),
            np.array([r["score"] for r in records], np.float32),
            np.array([r["class_id"] for r in records], np.int64),
            np.array([r["class_name"] for r in records], dtype=object),
        )
