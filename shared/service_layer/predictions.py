"""Forecasts for integrators: answer from Redis, read every miss of a request in one query.

Each camera's forecasts (every metric) are cached for ``prediction_cache_ttl_s`` under
``prediction:camera:{camera_id}:horizon:{minutes}`` (the seed's key). A cached value holds the
points from an hour before it was read to ``horizon`` plus the cache's lifetime after, so it
answers the same horizon, counted from now, for as long as it lives. Redis is an optimisation
here: when it is down, the answer comes from BigQuery and says nothing of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared import metrics
from shared.adapters.cache import Cache
from shared.domain.prediction_requests import camera_id, parse_bulk, parse_query
from shared.domain.predictions import (
    STATUS_MAX_AGE_D,
    CameraForecasts,
    Prediction,
    answer,
    collect,
)
from shared.domain.registry import Registry
from shared.domain.timestamps import iso_utc
from shared.errors import BadRequestError, CameraNotFoundError, DependencyUnavailableError
from shared.forecasting import sql
from shared.forecasting.port import Tables
from shared.service_layer.idempotency import prediction_key
from shared.settings import Settings

log = logging.getLogger(__name__)
OUTCOMES = ("ok", "no_forecast", "out_of_range")

LOOKBACK_S = 3600  # the longest bucket (violations: an hour): its current one is still answered


@dataclass(frozen=True)
class BulkAnswer:
    """The answer of ``POST /predictions/bulk``: one prediction per camera, in request order."""

    predictions: tuple[Prediction, ...]
    hits: int
    misses: int

    def as_answer(self) -> dict[str, Any]:
        """The JSON of ``schemas/predictions/bulk_response.schema.json``."""
        first = self.predictions[0]
        return {
            "horizon_minutes": first.horizon,
            "metric": first.metric,
            "confidence": first.confidence,
            "predictions": [p.as_answer() for p in self.predictions],
            "cache": {"hits": self.hits, "misses": self.misses},
        }


@dataclass
class PredictionService:
    """Answers ``GET /predictions/{camera_id}`` and ``POST /predictions/bulk``."""

    registry: Registry
    cache: Cache
    tables: Tables
    project: str
    dataset: str
    max_minutes: int
    max_cameras: int = 100
    ttl_s: int = 1800
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def of(
        cls, settings: Settings, registry: Registry, cache: Cache, tables: Tables
    ) -> PredictionService:
        """The service as the settings configure it (``CAMWATCH_PREDICTION_*``)."""
        s = settings
        return cls(
            registry,
            cache,
            tables,
            s.project_id,
            s.bigquery_dataset,
            max_minutes=s.forecast_horizon_h * 60,
            max_cameras=s.prediction_max_cameras,
            ttl_s=s.prediction_cache_ttl_s,
        )

    def one(self, camera: str, args: Mapping[str, str]) -> Prediction:
        """One camera's forecast (GET).

        Raises:
            BadRequestError: a malformed camera id or query, or a horizon beyond the stored
                forecast (the message says how far it reaches).
            CameraNotFoundError: the registry has no such camera.
        """
        self.registry.get(camera_id(camera))
        query = parse_query(args, self.max_minutes)
        found, _ = self.forecasts((camera,), query.horizon)
        prediction = answer(found[camera], query, self.clock())
        if prediction.outcome == "out_of_range":
            raise BadRequestError(f"{camera}: {prediction.message}")
        return prediction

    def bulk(self, body: Any) -> BulkAnswer:
        """Many cameras, one question (POST); a camera whose forecast does not reach the horizon
        answers ``out_of_range`` with the reason, the others their points.

        Raises:
            BadRequestError: a malformed body (the message says what is wrong), or a horizon
                beyond the forecast of every camera that has one (the message says how far
                they reach), as GET refuses it for one camera.
            CameraNotFoundError: cameras the registry does not hold (all named).
        """
        cameras, query = parse_bulk(body, self.max_minutes, self.max_cameras)
        known = {c.id for c in self.registry.cameras}
        unknown = [c for c in cameras if c not in known]
        if unknown:
            names = ", ".join(repr(c) for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise CameraNotFoundError(unknown[0], f"unknown cameras: {names}{more}")
        found, hits = self.forecasts(cameras, query.horizon)
        now = self.clock()
        predictions = tuple(answer(found[c], query, now) for c in cameras)
        refuse_beyond_every_forecast(predictions)
        log.info(
            "predictions answered",
            extra={
                "cameras": len(cameras),
                "cache_hits": hits,
                "horizon_minutes": query.horizon,
                "metric": query.metric,
                "outcomes": {o: sum(p.outcome == o for p in predictions) for o in OUTCOMES},
            },
        )
        return BulkAnswer(predictions, hits, len(cameras) - hits)

    def forecasts(
        self, cameras: tuple[str, ...], horizon: int
    ) -> tuple[dict[str, CameraForecasts], int]:
        """Each camera's forecasts, from the cache or (every miss at once) BigQuery; and how
        many came from the cache."""
        keys = {c: prediction_key(c, horizon) for c in cameras}
        cached, cache_up = self._cached(keys)
        misses = tuple(c for c in cameras if c not in cached)
        metrics.PREDICTION_CACHE.labels("hit").inc(len(cached))
        metrics.PREDICTION_CACHE.labels("miss").inc(len(misses))
        if not misses:
            return cached, len(cached)
        fresh = self.read(misses, horizon)
        if cache_up:
            try:
                self.cache.put_many({keys[c]: fresh[c].to_json() for c in misses}, self.ttl_s)
            except DependencyUnavailableError as exc:
                log.warning("predictions not cached", extra={"error": exc.message})
        return {**cached, **fresh}, len(cached)

    def _cached(self, keys: dict[str, str]) -> tuple[dict[str, CameraForecasts], bool]:
        try:
            values = self.cache.get_many(list(keys.values()))
        except DependencyUnavailableError as exc:
            log.warning("predictions cache down: reading BigQuery", extra={"error": exc.message})
            return {}, False
        found: dict[str, CameraForecasts] = {}
        for camera, text in zip(keys, values, strict=True):
            if text is None:
                continue
            try:
                found[camera] = CameraForecasts.from_json(text)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "unreadable cached forecast: read again",
                    extra={"key": keys[camera], "error": f"{type(exc).__name__}: {exc}"},
                )
        return found, True

    def read(self, cameras: tuple[str, ...], horizon: int) -> dict[str, CameraForecasts]:
        """The cameras' forecasts from BigQuery, in one query (``predictions.sql``)."""
        now = self.clock()
        query = sql.render(
            "predictions",
            project=sql.ident(self.project),
            dataset=sql.ident(self.dataset),
            cameras=sql.cameras(cameras),
            status_since=sql.timestamp(iso_utc(now - STATUS_MAX_AGE_D * 86_400)),
            window_start=sql.timestamp(iso_utc(now - LOOKBACK_S)),
            until=sql.timestamp(iso_utc(now + horizon * 60 + self.ttl_s)),
        )
        metrics.PREDICTION_QUERIES.inc()
        return collect(self.tables.query(query), cameras, now)


def refuse_beyond_every_forecast(predictions: tuple[Prediction, ...], named: int = 3) -> None:
    """Refuse a bulk horizon that no camera's forecast reaches (cameras without a forecast aside),
    naming how far the first ``named`` of them reach; one camera in range keeps the answer.

    Raises:
        BadRequestError: at least one camera is ``out_of_range`` and none is ``ok``.
    """
    outcomes = {p.outcome for p in predictions}
    if "ok" in outcomes or "out_of_range" not in outcomes:
        return
    beyond = [p for p in predictions if p.outcome == "out_of_range"]
    reasons = "; ".join(f"{p.camera_id}: {p.message}" for p in beyond[:named])
    more = f"; and {len(beyond) - named} more cameras" if len(beyond) > named else ""
    raise BadRequestError(
        f"a horizon of {beyond[0].horizon} minutes is beyond every camera's forecast: "
        f"{reasons}{more}"
    )
