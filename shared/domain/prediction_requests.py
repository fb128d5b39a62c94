"""The questions integrators ask of the forecasts, checked: every bad one is a 400 with its reason.

``GET /predictions/{camera_id}?horizon=60&metric=vehicles&confidence=0.9`` and ``POST
/predictions/bulk`` with ``{"cameras": [...], "horizon": 60, "metric": "vehicles",
"confidence": 0.9}`` (``schemas/predictions/bulk_request.schema.json``). The horizon is whole
minutes from now, 1 to the forecast horizon (``CAMWATCH_FORECAST_HORIZON_H``); the metric one of
:data:`~shared.domain.forecasts.METRICS` (default ``vehicles``); the confidence a level from 0.5
to 0.999 (default 0.95, the stored one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.forecasts import FORECAST_CONFIDENCE, METRICS
from shared.domain.registry import CAMERA_ID
from shared.errors import BadRequestError

DEFAULT_METRIC = "vehicles"
MIN_CONFIDENCE = 0.5
MAX_CONFIDENCE = 0.999
_DIGITS = re.compile(r"^[0-9]{1,6}$")
_NUMBER = re.compile(r"^(0|[1-9][0-9]{0,2})?(\.[0-9]{1,6})?$")
_CAMERA = re.compile(CAMERA_ID)
_BULK_FIELDS = frozenset({"cameras", "horizon", "metric", "confidence"})
_QUERY_FIELDS = frozenset({"horizon", "metric", "confidence"})


@dataclass(frozen=True)
class PredictionQuery:
    """One question: how far ahead (minutes from now), which metric, at which confidence."""

    horizon: int
    metric: str = DEFAULT_METRIC
    confidence: float = FORECAST_CONFIDENCE


def camera_id(value: Any) -> str:
    """A camera id as the registry writes them.

    Raises:
        BadRequestError: not a string of that form.
    """
    if not isinstance(value, str) or not _CAMERA.fullmatch(value):
        raise BadRequestError(f"malformed camera id {str(value)[:80]!r}: expected {CAMERA_ID}")
    return value


def horizon(value: Any, max_minutes: int) -> int:
    """Whole minutes from now, 1 to ``max_minutes``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequestError(f"horizon {str(value)[:40]!r} is not a whole number of minutes")
    if not 1 <= value <= max_minutes:
        raise BadRequestError(
            f"horizon {value} is out of range: 1 to {max_minutes} minutes "
            f"(forecasts reach {max_minutes // 60} h)"
        )
    return value


def metric(value: Any) -> str:
    """One of the forecast metrics."""
    if not isinstance(value, str) or value not in METRICS:
        raise BadRequestError(f"unknown metric {str(value)[:40]!r}: one of {sorted(METRICS)}")
    return str(value)


def confidence(value: Any) -> float:
    """A confidence level from 0.5 to 0.999."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequestError(f"confidence {str(value)[:40]!r} is not a number")
    if not MIN_CONFIDENCE <= value <= MAX_CONFIDENCE:
        raise BadRequestError(
            f"confidence {value} is out of range: {MIN_CONFIDENCE} to {MAX_CONFIDENCE}"
        )
    return float(value)


def _unknown(fields: Any, known: frozenset[str], where: str) -> None:
    extra = sorted(str(f)[:40] for f in fields if f not in known)
    if extra:
        raise BadRequestError(f"unknown {where} {extra[:5]}: known are {sorted(known)}")


def parse_query(args: Mapping[str, str], max_minutes: int) -> PredictionQuery:
    """The query string of ``GET /predictions/{camera_id}`` (``horizon`` is required); its
    values are text, read as a whole number and a decimal."""
    _unknown(args.keys(), _QUERY_FIELDS, "query parameters")
    if "horizon" not in args:
        raise BadRequestError("horizon is required: ?horizon=<minutes from now>")
    minutes, level = args["horizon"], args.get("confidence", str(FORECAST_CONFIDENCE))
    return PredictionQuery(
        horizon(int(minutes) if _DIGITS.fullmatch(minutes) else minutes, max_minutes),
        metric(args.get("metric", DEFAULT_METRIC)),
        confidence(float(level) if level and _NUMBER.fullmatch(level) else level),
    )


def parse_bulk(
    body: Any, max_minutes: int, max_cameras: int
) -> tuple[tuple[str, ...], PredictionQuery]:
    """The body of ``POST /predictions/bulk``: its cameras (duplicates dropped, order kept) and
    the one question asked of each."""
    if body is None:
        raise BadRequestError("the body is empty: want a JSON object with cameras and horizon")
    if not isinstance(body, dict):
        raise BadRequestError(
            f"the body is a JSON {type(body).__name__}: want an object with cameras and horizon"
        )
    _unknown(body.keys(), _BULK_FIELDS, "fields")
    cameras = body.get("cameras")
    if not isinstance(cameras, list) or not cameras:
        raise BadRequestError("cameras must be a non-empty list of camera ids")
    if len(cameras) > max_cameras:
        raise BadRequestError(
            f"{len(cameras)} cameras is over the limit of {max_cameras} per request: "
            "split the request"
        )
    if "horizon" not in body:
        raise BadRequestError("horizon is required: minutes from now")
    query = PredictionQuery(
        horizon(body["horizon"], max_minutes),
        metric(body.get("metric", DEFAULT_METRIC)),
        confidence(body.get("confidence", FORECAST_CONFIDENCE)),
    )
    return tuple(dict.fromkeys(camera_id(c) for c in cameras)), query
