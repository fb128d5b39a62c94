"""``make history`` and ``make forecast``: the BigQuery emulator alone, its data kept on disk.

``history`` writes weeks of simulated observations into the emulator (kept in ``.stack/bigquery``,
as for ``make run`` and ``make up``); ``forecast`` runs the forecast job on them (or BigQuery ML
in a real project), prints a table per camera and saves a chart per camera in
``.stack/forecasts``. It runs without Pub/Sub: the anomalous intervals that the job would
publish as ``traffic.anomaly`` alerts are printed instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from shared.devstack.history import (
    BATCH_ROWS,
    DEFAULT_TZ,
    FLAKY_DOWN_SHARE,
    FLAKY_OUTAGES_PER_DAY,
    SHORT_HISTORY_DAYS,
    HistoryResult,
    Injected,
    Progress,
    end_of_history,
    plan_injected,
    write_history,
)
from shared.devstack.procs import Stack, StartError
from shared.devstack.stack import DEMO_BUCKET, PROJECT, ROOT, LocalStack
from shared.devstack.tools import MissingToolError
from shared.domain.registry import Camera, load_registry
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.adapters.warehouse import BigQueryWarehouse
    from shared.service_layer.forecasting import RunSummary

LOGS = ROOT / ".stack" / "logs"
BIGQUERY_DIR = ROOT / ".stack" / "bigquery"  # the emulator's data, kept between commands
CHARTS = ROOT / ".stack" / "forecasts"


def _demo_cameras() -> list[Camera]:
    """The demo registry's cameras; their sources need not resolve (no frame is fetched), so
    its placeholders get stand-ins, in this process's environment for the forecast job too."""
    os.environ.setdefault("CAMWATCH_DEMO_CAMERA_URL", "http://127.0.0.1:9")
    os.environ.setdefault("CAMWATCH_DEMO_BUCKET", DEMO_BUCKET)
    return list(load_registry(Settings().registry_path).cameras)


def _warehouse(env: dict[str, str]) -> BigQueryWarehouse:
    """The warehouse of these settings (exported to this process for the forecast job too)."""
    from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client

    os.environ.update(env)
    settings = Settings()
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    return BigQueryWarehouse(client, settings.bigquery_dataset, settings.bigquery_location, 120)


def start_warehouse(log_dir: Path, bigquery_dir: Path) -> LocalStack:
    """Only the BigQuery emulator, keeping its data in ``bigquery_dir`` (``make history``,
    ``make forecast``); ``env`` points camwatch at it."""
    local = LocalStack(Stack(log_dir), env={"CAMWATCH_PROJECT_ID": PROJECT})
    try:
        local.start_bigquery(bigquery_dir)
    except BaseException:
        local.stop()
        raise
    return local


def _emulator() -> LocalStack | None:
    """Only the BigQuery emulator, its data in ``.stack/bigquery``; None (said why) if it fails."""
    print(f"starting the BigQuery emulator (data kept in {BIGQUERY_DIR}) ...", flush=True)
    try:
        return start_warehouse(LOGS, BIGQUERY_DIR)
    except (MissingToolError, StartError) as exc:
        start_failed(exc)
        return None


def start_failed(exc: Exception) -> None:
    """Say why the stack did not start; a held data file is another stack's (one at a time)."""
    print(f"error: {exc}", file=sys.stderr)
    if "Conflicting lock" in str(exc):
        print(
            f"error: another BigQuery emulator holds {BIGQUERY_DIR} (is `make up` running?): "
            "stop it first, one local stack at a time",
            file=sys.stderr,
        )


def history(weeks: float, seed: int) -> int:
    """Replace the simulated history in the emulator (``make history``)."""
    cameras = _demo_cameras()
    if (local := _emulator()) is None:
        return 2
    try:
        make_history(_warehouse(local.env), cameras, weeks, seed, partial(print, flush=True))
        print("next: make forecast (the data stays in .stack/bigquery; make clean removes it)")
        return 0
    finally:
        local.stop()


def forecast(project: str | None, dataset: str) -> int:
    """Run the forecast job on the emulator's history (or BigQuery ML in a real project), print
    the table per camera and save the charts (``make forecast``)."""
    from google.auth.exceptions import DefaultCredentialsError

    from shared.devstack.forecast_report import show
    from shared.devstack.history import DEFAULT_TZ
    from shared.entrypoints.forecast_job import run_job
    from shared.errors import CamwatchError

    _demo_cameras()  # stand-ins for the registry's placeholders, which the job reads
    local, env = None, {"CAMWATCH_FORECAST_BACKEND": "bigquery_ml"}
    if project:
        os.environ.pop("CAMWATCH_BIGQUERY_ENDPOINT", None)
        env |= {"CAMWATCH_PROJECT_ID": project, "CAMWATCH_BIGQUERY_DATASET": dataset}
        print(
            f"forecasting in {project}.{dataset} with BigQuery ML (Application Default "
            "Credentials, no emulator) ...",
            flush=True,
        )
    else:
        if (local := _emulator()) is None:
            return 2
        env = {**local.env, "CAMWATCH_FORECAST_BACKEND": "local"}
    try:
        try:
            warehouse = _warehouse(env)
        except DefaultCredentialsError as exc:
            print(
                f"error: no Application Default Credentials ({exc}): run `gcloud auth "
                "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS",
                file=sys.stderr,
            )
            return 2
        if local is not None and not _has_history(warehouse):
            print(
                "error: no observations in the local BigQuery: run `make history` first",
                file=sys.stderr,
            )
            return 2
        try:
            run = run_job(Settings(), partial(print, flush=True), publish=False)
        except CamwatchError as exc:
            print(f"error: the forecast run failed: {exc}", file=sys.stderr)
            return 1
        print(f"\nrun {run.run_id} ({run.backend}, {run.seconds:.1f} s): {run.counts()}\n")
        for line in anomaly_lines(run):
            print(line)
        dataset_id = warehouse.table_id("x").rsplit(".", 1)[0]
        show(
            warehouse,
            dataset_id,
            run.run_id,
            CHARTS,
            ZoneInfo(DEFAULT_TZ),
            partial(print, flush=True),
        )
        return 0
    finally:
        if local is not None:
            local.stop()


def anomaly_lines(run: RunSummary, tz: str = DEFAULT_TZ) -> list[str]:
    """The intervals the run would alert on (``make forecast`` publishes nothing)."""
    from shared.domain.anomaly_alerts import expected_range
    from shared.domain.anomaly_intervals import severity_of_interval
    from shared.domain.timestamps import row_time

    zone = ZoneInfo(tz)
    lines = [f"anomalous intervals that would alert (traffic.anomaly): {len(run.intervals)}"]
    for i in run.intervals:
        start = row_time(i.start).astimezone(zone)
        lines.append(
            f"  {severity_of_interval(i):<6} {i.camera_id:<36} {i.metric:<10} "
            f"{start:%a %d %b %H:%M} for {i.duration_s // 60} min: peak {i.peak_value:.1f} "
            f"{i.direction} {expected_range(i)} (id {i.interval_id})"
        )
    return [*lines, ""]


def _has_history(warehouse: BigQueryWarehouse) -> bool:
    from shared.errors import WarehouseRejectedError

    try:
        found = warehouse.query(f"SELECT COUNT(*) AS n FROM `{warehouse.table_id('observations')}`")
    except WarehouseRejectedError:
        return False
    return bool(found) and int(found[0]["n"]) > 0


def summary(result: HistoryResult, injected: Injected, tz: str = DEFAULT_TZ) -> list[str]:
    """What was written and what was planted, for people."""
    zone = ZoneInfo(tz)

    def local(epoch_s: int) -> str:
        return f"{datetime.fromtimestamp(epoch_s, zone):%a %d %b %H:%M}"

    rate = (result.observations + result.violations) / max(result.seconds, 1e-6)
    lines = [
        f"history: {result.cameras} cameras, {result.observations:,} observations "
        f"({result.failed:,} failed sweeps), {result.violations:,} violations opened, "
        f"{result.seconds:.1f} s ({rate:,.0f} rows/s)",
        f"  span: {local(result.start_s)} to {local(result.end_s)} ({tz}), every 5 minutes; "
        "every row simulated = TRUE, sweep ids history-...",
    ]
    if result.deleted:
        lines.append(f"  replaced the previous simulated history ({result.deleted:,} rows deleted)")
    if injected.skipped:
        lines.append(
            f"  no history (offline or broken demo cameras): {', '.join(injected.skipped)}"
        )
    if injected.flaky:
        lines.append(
            f"  flaky camera: {injected.flaky} ({FLAKY_DOWN_SHARE:.0%} of its sweeps fail at "
            f"random, {FLAKY_OUTAGES_PER_DAY:g} outages of 1 to 6 h a day): low coverage, "
            "left out of the forecasts"
        )
    if injected.short:
        lines.append(
            f"  short history: {injected.short} (the last {SHORT_HISTORY_DAYS:g} days only): "
            "a forecast without training"
        )
    for camera, incident in injected.incidents:
        lines.append(
            f"  incident: {camera} x{incident.factor:g} from {local(incident.start_s)} for "
            f"{incident.duration_s // 60} min (an anomaly to find)"
        )
    return lines


def make_history(
    warehouse: BigQueryWarehouse,
    cameras: Sequence[Camera],
    weeks: float,
    seed: int = 0,
    say: Progress = print,
) -> HistoryResult:
    """``make history``: replace the simulated history up to now, saying what was done."""
    end_s = end_of_history()
    injected = plan_injected(cameras, end_s)
    say(
        f"writing {weeks:g} weeks of 5-minute observations for "
        f"{len(cameras) - len(injected.skipped)} demo cameras in batches of {BATCH_ROWS:,} rows "
        "(the previous simulated rows are deleted first) ..."
    )
    result = write_history(warehouse, cameras, weeks * 7, end_s, seed, injected, say)
    for line in summary(result, injected):
        say(line)
    return result
