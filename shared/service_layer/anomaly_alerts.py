"""Anomalies that alert, the forecast job's side: after each metric, read the anomalous steps
every run has written lately (``schemas/bigquery/ml/anomaly_steps.sql``), group them into
intervals (:func:`shared.domain.anomaly_alerts.group_intervals`), and publish those this run
found on the ``anomalies`` topic; ``anomaly_dispatcher`` alerts each once
(docs/forecasting.md, "Anomalies that alert").

Steps are read from twice the anomaly window back: an interval that began before this run's
window keeps its first step, hence its id, as long as it lasts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.adapters.bus import EventBus
from shared.domain.anomaly_intervals import AnomalyInterval, AnomalyStep, group_intervals
from shared.domain.forecasts import Metric
from shared.domain.timestamps import iso_utc
from shared.forecasting import sql
from shared.forecasting.port import Tables

TOPIC = "anomalies"
LOOKBACK_WINDOWS = 2  # steps are read from this many anomaly windows back

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnomalyAlerts:
    """Finds a run's anomalous intervals and publishes them (``bus`` None: finds only, as
    ``make forecast`` without Pub/Sub does)."""

    bus: EventBus | None
    min_steps: int = 2  # CAMWATCH_ANOMALY_ALERT_MIN_STEPS
    window_h: int = 24  # CAMWATCH_ANOMALY_WINDOW_H

    def find(
        self,
        tables: Tables,
        project: str,
        dataset: str,
        metric: Metric,
        run_id: str,
        now: datetime,
    ) -> list[AnomalyInterval]:
        """The intervals of ``metric`` that run ``run_id`` found (one query)."""
        since = now - timedelta(hours=LOOKBACK_WINDOWS * self.window_h)
        query = sql.render(
            "anomaly_steps",
            project=sql.ident(project),
            dataset=sql.ident(dataset),
            metric=sql.ident(metric.name),
            anomaly_since=sql.timestamp(iso_utc(since)),
        )
        steps = [AnomalyStep.from_row(row) for row in tables.query(query)]
        return group_intervals(steps, metric.bucket_s, self.min_steps, run_id)

    def publish(self, intervals: Sequence[AnomalyInterval]) -> int:
        """Publish each interval on ``anomalies`` (checked against its schema); how many.

        Raises:
            DependencyUnavailableError: Pub/Sub failed (the job fails and is retried; the
                next run publishes the same intervals again, and the dispatcher's claims
                keep each alert to one).
        """
        if self.bus is None or not intervals:
            return 0
        for interval in intervals:
            self.bus.publish(
                TOPIC, [interval], camera_id=interval.camera_id, metric=interval.metric
            )
            log.info(
                "anomaly published",
                extra={
                    "interval_id": interval.interval_id,
                    "camera_id": interval.camera_id,
                    "metric": interval.metric,
                    "start": interval.start,
                    "steps": interval.steps,
                },
            )
        return len(intervals)
