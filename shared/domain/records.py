"""What a record promises its adapters: a row of one BigQuery table, or one Pub/Sub message.

Records are frozen dataclasses; each builds its own row, message or answer in one place, and
only adapters (and the HTTP edge, for JSON) turn them into plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol


class Row(Protocol):
    """A row of one table, idempotent by its id (also the BigQuery insertId)."""

    table: ClassVar[str]

    @property
    def row_id(self) -> str:
        """The row's deterministic id."""
        ...

    def as_row(self) -> dict[str, Any]:
        """The row as the table's schema (``schemas/bigquery/<table>.json``) wants it."""
        ...


class Message(Protocol):
    """A Pub/Sub message payload checked against ``schemas/pubsub/<schema>.schema.json``."""

    schema: ClassVar[str]

    def as_message(self) -> dict[str, Any]:
        """The JSON payload."""
        ...


Box = tuple[float, float, float, float]


def box_dict(box: Box) -> dict[str, float]:
    """``(x1, y1, x2, y2)`` as the JSON/BigQuery record ``{"x1": .., ..}``."""
    return dict(zip(("x1", "y1", "x2", "y2"), box, strict=True))


def rounded_box(row: Sequence[float] | Iterable[Any]) -> Box:
    """A box from four numbers (a numpy row too), rounded to 0.1 px as rows and keys keep it."""
    x1, y1, x2, y2 = (round(float(v), 1) for v in row)
    return (x1, y1, x2, y2)


def box_of(data: dict[str, Any]) -> Box:
    """Inverse of :func:`box_dict`."""
    return (float(data["x1"]), float(data["y1"]), float(data["x2"]), float(data["y2"]))
