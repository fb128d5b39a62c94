"""``make forecast``'s report: a table per camera and a PNG chart per camera.

Reads one run's rows (``forecast_status``, ``forecasts``, ``anomalies``) and the recent history
(``forecast_series``) from BigQuery, the emulator or a real project alike, into
:class:`SeriesReport` records; formats them as text and draws them with matplotlib (Agg).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from shared.domain.timestamps import row_time

CHART_METRICS = ("vehicles", "persons")  # the panels of a chart, top to bottom
CHART_SIZE_IN = (12.0, 7.0)
CHART_DPI = 100
HISTORY_COLOUR = "#1f4e79"
FORECAST_COLOUR = "#d95f02"
BAND_ALPHA = 0.25
ANOMALY_COLOUR = "red"


class Tables(Protocol):
    """What the report reads with (``BigQueryWarehouse``)."""

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query with scalar named parameters; rows as dicts."""
        ...


@dataclass(frozen=True)
class Step:
    """One forecast step: the value and its 95 % interval."""

    at: datetime
    value: float
    lower: float | None
    upper: float | None


@dataclass
class SeriesReport:
    """One camera's metric in one run: its status and, when forecast, the lines to draw."""

    camera_id: str
    metric: str
    status: str
    reason: str
    model_name: str | None = None
    trained_at: datetime | None = None
    history_points: int | None = None
    coverage: float | None = None
    history: list[tuple[datetime, float]] = field(default_factory=list)
    forecast: list[Step] = field(default_factory=list)
    anomalies: list[tuple[datetime, float]] = field(default_factory=list)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def load_report(
    tables: Tables, dataset_id: str, run_id: str, history_days: float = 7.0
) -> list[SeriesReport]:
    """One run's series (every camera and metric of ``forecast_status``) with their rows.

    ``dataset_id`` is ``project.dataset``; the history is the last ``history_days`` before the
    run's training time, from the ``forecast_series`` view.
    """
    ds, params = f"`{dataset_id}", {"run_id": run_id}
    reports: dict[tuple[str, str], SeriesReport] = {}
    for row in tables.query(
        f"SELECT * FROM {ds}.forecast_status` WHERE run_id = @run_id ORDER BY camera_id, metric",
        params,
    ):
        reports[(row["camera_id"], row["metric"])] = SeriesReport(
            camera_id=row["camera_id"],
            metric=row["metric"],
            status=row["status"],
            reason=row.get("reason") or "",
            model_name=row.get("model_name"),
            trained_at=row_time(row["trained_at"]) if row.get("trained_at") else None,
            history_points=row.get("history_points"),
            coverage=_optional(row.get("coverage")),
        )
    if not reports:
        return []
    for row in tables.query(
        f"SELECT camera_id, metric, forecast_timestamp, forecast_value, "
        f"prediction_interval_lower_bound, prediction_interval_upper_bound FROM {ds}.forecasts` "
        "WHERE run_id = @run_id ORDER BY camera_id, metric, forecast_timestamp",
        params,
    ):
        if series := reports.get((row["camera_id"], row["metric"])):
            series.forecast.append(
                Step(
                    row_time(row["forecast_timestamp"]),
                    float(row["forecast_value"]),
                    _optional(row["prediction_interval_lower_bound"]),
                    _optional(row["prediction_interval_upper_bound"]),
                )
            )
    for row in tables.query(
        f"SELECT camera_id, metric, time_series_timestamp, time_series_data FROM {ds}.anomalies` "
        "WHERE run_id = @run_id AND is_anomaly ORDER BY time_series_timestamp",
        params,
    ):
        if series := reports.get((row["camera_id"], row["metric"])):
            series.anomalies.append(
                (row_time(row["time_series_timestamp"]), float(row["time_series_data"]))
            )
    trained = max((s.trained_at for s in reports.values() if s.trained_at), default=None)
    since = (trained or datetime.now(UTC)) - timedelta(days=history_days)
    wanted = {k for k, s in reports.items() if s.status != "none" and k[1] in CHART_METRICS}
    for row in tables.query(
        f"SELECT camera_id, metric, bucket, value FROM {ds}.forecast_series` "
        "WHERE bucket >= TIMESTAMP(@since) AND metric IN ('vehicles', 'persons') "
        "ORDER BY camera_id, metric, bucket",
        {"since": since.strftime("%Y-%m-%d %H:%M:%S+00:00")},
    ):
        key = (row["camera_id"], row["metric"])
        if key in wanted:
            reports[key].history.append((row_time(row["bucket"]), float(row["value"])))
    return list(reports.values())


def by_camera(reports: Sequence[SeriesReport]) -> dict[str, dict[str, SeriesReport]]:
    """The series grouped per camera (sorted), then per metric."""
    out: dict[str, dict[str, SeriesReport]] = {}
    for series in sorted(reports, key=lambda s: (s.camera_id, s.metric)):
        out.setdefault(series.camera_id, {})[series.metric] = series
    return out


def _next_steps(series: SeriesReport, hours: int, tz: ZoneInfo) -> str:
    """The forecast at the first step and each whole hour after it, up to ``hours``."""
    if not series.forecast:
        return "-"
    first = series.forecast[0].at
    picked = [s for s in series.forecast if (s.at - first).total_seconds() % 3600 == 0]
    parts = []
    for step in picked[:hours]:
        band = (
            f" [{step.lower:.1f}, {step.upper:.1f}]"
            if step.lower is not None and step.upper is not None
            else ""
        )
        parts.append(f"{step.at.astimezone(tz):%H:%M} {step.value:.1f}{band}")
    return "  ".join(parts)


def format_table(reports: Sequence[SeriesReport], tz: ZoneInfo, hours: int = 3) -> list[str]:
    """A block per camera (one line per metric), then each series without a forecast and why."""
    lines: list[str] = []
    header = (
        f"    {'metric':<11}{'status':<15}{'model':<36}{'points':>7}{'cover':>7}  "
        f"{'anom':>4}  next {hours} h (95 % interval, {tz.key} time)"
    )
    for camera, metrics in by_camera(reports).items():
        lines += [camera, header]
        for metric, s in metrics.items():
            cover = "-" if s.coverage is None else f"{s.coverage:.0%}"
            points = "-" if s.history_points is None else str(s.history_points)
            nxt = _next_steps(s, hours, tz) if s.status != "none" else f"none: {s.reason}"
            lines.append(
                f"    {metric:<11}{s.status:<15}{(s.model_name or '-')[:35]:<36}{points:>7}"
                f"{cover:>7}  {len(s.anomalies):>4}  {nxt}"
            )
    without = [s for s in reports if s.status == "none"]
    if without:
        lines += ["", f"without a forecast ({len(without)} series):"]
        lines += [
            f"  {s.camera_id:<36} {s.metric:<11} {s.reason}"
            for s in sorted(without, key=lambda s: (s.camera_id, s.metric))
        ]
    return lines


def draw_chart(metrics: dict[str, SeriesReport], path: Path, tz: ZoneInfo) -> Path:
    """One camera's chart as a PNG: a panel per metric (vehicles, persons) with the history,
    the forecast, its 95 % band and the anomalies in red; times on the camera's local clock."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    panels = [metrics[m] for m in CHART_METRICS if m in metrics and metrics[m].status != "none"]
    fig = Figure(figsize=CHART_SIZE_IN, dpi=CHART_DPI, layout="constrained")
    axes = fig.subplots(max(1, len(panels)), 1, sharex=True, squeeze=False)[:, 0]
    for ax, series in zip(axes, panels, strict=False):
        if series.history:
            times, values = zip(*series.history, strict=True)
            ax.plot(times, values, color=HISTORY_COLOUR, lw=0.9, label="history (15-min mean)")
        if series.forecast:
            at = [s.at for s in series.forecast]
            ax.plot(
                at,
                [s.value for s in series.forecast],
                color=FORECAST_COLOUR,
                lw=1.6,
                label="forecast",
            )
            if all(s.lower is not None and s.upper is not None for s in series.forecast):
                ax.fill_between(
                    at,
                    [s.lower or 0.0 for s in series.forecast],
                    [s.upper or 0.0 for s in series.forecast],
                    color=FORECAST_COLOUR,
                    alpha=BAND_ALPHA,
                    lw=0,
                    label="95 % interval",
                )
        if series.trained_at:
            ax.axvline(series.trained_at, color="grey", lw=0.8, ls="--", label="trained")
        if series.anomalies:
            times, values = zip(*series.anomalies, strict=True)
            ax.scatter(times, values, color=ANOMALY_COLOUR, s=28, zorder=5, label="anomaly")
        ax.set_ylabel(f"{series.metric} in view")
        ax.set_title(
            f"{series.metric}: {series.status}, {series.model_name or '-'}", fontsize=10, loc="left"
        )
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    if not panels:
        axes[0].text(0.5, 0.5, "no forecast", ha="center", va="center", transform=axes[0].transAxes)
    axes[-1].xaxis.set_major_locator(mdates.DayLocator(tz=tz))  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_minor_locator(mdates.HourLocator(byhour=(6, 12, 18), tz=tz))  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b", tz=tz))  # type: ignore[no-untyped-call]
    axes[-1].set_xlabel(f"local time ({tz.key})")
    first = next(iter(metrics.values()))
    trained = next((s.trained_at for s in metrics.values() if s.trained_at), None)
    when = f"trained {trained.astimezone(tz):%Y-%m-%d %H:%M %Z}" if trained else "not trained"
    models = ", ".join(sorted({s.model_name for s in panels if s.model_name})) or "no model"
    fig.suptitle(f"{first.camera_id}: {models}, {when}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=CHART_DPI)
    return path


def draw_charts(reports: Sequence[SeriesReport], out_dir: Path, tz: ZoneInfo) -> list[Path]:
    """A chart per camera with a forecast of vehicles or persons: ``out_dir/{camera}.png``."""
    return [
        draw_chart(metrics, out_dir / f"{camera}.png", tz)
        for camera, metrics in by_camera(reports).items()
        if any(m in CHART_METRICS and s.status != "none" for m, s in metrics.items())
    ]


def show(
    tables: Tables,
    dataset_id: str,
    run_id: str,
    out_dir: Path,
    tz: ZoneInfo,
    say: Callable[[str], None] = print,
) -> list[Path]:
    """Print the run's table and save its charts in ``out_dir``; the charts' paths."""
    reports = load_report(tables, dataset_id, run_id)
    for line in format_table(reports, tz):
        say(line)
    charts = draw_charts(reports, out_dir, tz)
    say(
        f"\n{len(charts)} charts (last 7 days, forecast, 95 % band, anomalies in red) in "
        f"{out_dir}/" + (f": open {charts[0]}" if charts else "")
    )
    return charts
