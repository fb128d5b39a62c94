"""The forecast job: ``python -m shared.entrypoints.forecast_job`` (a Cloud Run job, retrained on
Cloud Scheduler's timetable; ``make forecast`` runs the same code on the local stack).

It reads the settings (``CAMWATCH_FORECAST_*``), forecasts every metric of every registry camera
with the configured backend, publishes the anomalous intervals it found on ``anomalies`` (one
``traffic.anomaly`` alert each), logs one JSON line per step and a summary, and exits non-zero
when the warehouse, the backend or Pub/Sub failed (Cloud Run retries the task). A run that
forecast nothing (no history yet) succeeds with a warning: retrying would not help.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from shared.bootstrap.forecast_wiring import forecasting
from shared.domain.registry import load_registry
from shared.errors import CamwatchError
from shared.logs import configure_logging
from shared.service_layer.forecasting import RunSummary, run_forecasts
from shared.settings import Settings

log = logging.getLogger("camwatch.forecast")


def run_job(
    settings: Settings, progress: Callable[[str], None] | None = None, publish: bool = True
) -> RunSummary:
    """One forecasting run over the registry's cameras; ``progress`` gets a line per step.

    Its anomalous intervals are published on ``anomalies``, or only found (in the summary)
    when not ``publish``.
    """
    tables, backend, config, alerts = forecasting(settings, publish)
    tables.ensure_tables()  # the views it reads: Terraform makes them in the cloud, not locally
    cameras = [c.id for c in load_registry(settings.registry_path).cameras]
    return run_forecasts(
        tables, backend, config, cameras, progress=progress or log.info, alerts=alerts
    )


def main() -> int:
    """Entry point of the Cloud Run job; the exit status tells Cloud Run whether to retry."""
    configure_logging()
    try:
        summary = run_job(Settings())
    except CamwatchError as exc:
        log.error("forecast run failed: %s", exc)
        return 1
    counts = summary.counts()
    log.info(
        "forecast run %s: %s series forecast, %s short history, %s without, "
        "%s anomalous intervals published, in %.1f s",
        summary.run_id,
        counts.get("forecast", 0),
        counts.get("short_history", 0),
        counts.get("none", 0),
        summary.published,
        summary.seconds,
    )
    if not counts.get("forecast", 0) + counts.get("short_history", 0):
        log.warning("forecast run %s forecast nothing: see forecast_status", summary.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
