"""Every SQL file of ``schemas/bigquery/`` checked without BigQuery: parsed with sqlglot's
BigQuery dialect and its column names resolved against the table schema files.

sqlglot 30.11 parses ``CREATE MODEL``, ``ML.FORECAST`` and ``AI.FORECAST`` but not
``ML.DETECT_ANOMALIES``, ``ML.EXPLAIN_FORECAST`` or ``ML.ARIMA_EVALUATE``; so each BigQuery ML
call is checked by its outline (``MODEL `p.d.m`, STRUCT(value AS option, ...)`` or
``AI.FORECAST((query), name => value, ...)``, with the documented option names) and replaced by
a stand-in table holding the function's documented output columns, and the rest is parsed and
qualified. An unknown column anywhere (an INSERT's list, a view reading a table, a statement
reading an ML function's output) fails the check.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import cast

import pytest
import sqlglot
from google.cloud import bigquery
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from shared.adapters.warehouse import TABLE_SCHEMAS, TABLES, VIEW_QUERIES, VIEWS
from shared.adapters.warehouse_tables import ddl_type
from shared.domain.forecasts import FORECAST_CONFIDENCE, z_score
from shared.forecasting.sql import ML_QUERIES

SAMPLE = {
    "project": "proj",
    "dataset": "data",
    "model": "forecast_vehicles",
    "metric": "vehicles",
    "window_start": "TIMESTAMP '2026-01-01T00:00:00Z'",
    "anomaly_since": "TIMESTAMP '2026-01-28T00:00:00Z'",
    "trained_at": "TIMESTAMP '2026-01-29T00:00:00Z'",
    "cameras": "'cam-1', 'cam-2'",
    "horizon": "96",
    "holiday_region": "US",
    "model_name": "bqml.arima_plus.forecast_vehicles",
    "model_version": "v1",
    "run_id": "run-1",
    "threshold": "0.99",
    "explain_history": "192",
    "status_since": "TIMESTAMP '2025-12-30T00:00:00Z'",
    "until": "TIMESTAMP '2026-01-30T00:00:00Z'",
}
MODEL_COLUMNS = {"model_name", "model_version", "backend", "trained_at", "run_id"}
# The documented output columns of each function for a model with time_series_id_col =
# camera_id (BigQuery ML reference pages of each function).
ML_OUTPUTS = {
    "ML.FORECAST": "forecast_timestamp forecast_value standard_error confidence_level "
    "prediction_interval_lower_bound prediction_interval_upper_bound",
    "ML.DETECT_ANOMALIES": "time_series_timestamp time_series_data is_anomaly lower_bound "
    "upper_bound anomaly_probability",
    "ML.EXPLAIN_FORECAST": "time_series_timestamp time_series_type time_series_data "
    "time_series_adjusted_data standard_error confidence_level prediction_interval_lower_bound "
    "prediction_interval_upper_bound trend seasonal_period_yearly seasonal_period_quarterly "
    "seasonal_period_monthly seasonal_period_weekly seasonal_period_daily holiday_effect "
    "spikes_and_dips step_changes residual",
    "ML.ARIMA_EVALUATE": "non_seasonal_p non_seasonal_d non_seasonal_q has_drift log_likelihood "
    "aic variance seasonal_periods has_holiday_effect has_spikes_and_dips has_step_changes "
    "error_message",
    "AI.FORECAST": "forecast_timestamp forecast_value confidence_level "
    "prediction_interval_lower_bound prediction_interval_upper_bound ai_forecast_status",
}
ML_OPTIONS = {
    "ML.FORECAST": {"horizon", "confidence_level"},
    "ML.EXPLAIN_FORECAST": {"horizon", "confidence_level"},
    "ML.DETECT_ANOMALIES": {"anomaly_prob_threshold"},
    "ML.ARIMA_EVALUATE": {"show_all_candidate_models"},
    "AI.FORECAST": {
        "data_col",
        "timestamp_col",
        "model",
        "id_cols",
        "horizon",
        "confidence_level",
        "output_historical_time_series",
        "context_window",
    },
}
ARIMA_PLUS_OPTIONS = {
    "model_type",
    "time_series_timestamp_col",
    "time_series_data_col",
    "time_series_id_col",
    "data_frequency",
    "holiday_region",
    "horizon",
    "auto_arima",
    "auto_arima_max_order",
    "auto_arima_min_order",
    "include_drift",
    "clean_spikes_and_dips",
    "adjust_step_changes",
    "decompose_time_series",
    "forecast_limit_lower_bound",
    "forecast_limit_upper_bound",
    "time_series_length_fraction",
    "min_time_series_length",
    "max_time_series_length",
    "trend_smoothing_window_size",
}
_CALL = re.compile(
    r"\b(ML\.(?:FORECAST|DETECT_ANOMALIES|EXPLAIN_FORECAST|ARIMA_EVALUATE)|AI\.FORECAST)\("
)
ML_FILES = sorted(ML_QUERIES.glob("*.sql"))
Schema = dict[str, dict[str, dict[str, dict[str, str]]]]  # project, dataset, table: columns


def _type(field: dict[str, object]) -> str:
    return ddl_type(bigquery.SchemaField.from_api_repr(field))


def _fields(name: str) -> list[dict[str, object]]:
    spec = json.loads((TABLE_SCHEMAS / f"{name}.json").read_text())
    fields: list[dict[str, object]] = spec["schema"]
    return fields


TABLE_COLUMNS = {t: {str(f["name"]): _type(f) for f in _fields(t)} for t in TABLES}
RECORDS = {
    str(f["name"]): {str(g["name"]) for g in f["fields"]}  # type: ignore[attr-defined]
    for t in TABLES
    for f in _fields(t)
    if f["type"] == "RECORD"
}


def render(text: str) -> str:
    """A file's text with the sample values (every placeholder must be known)."""
    return string.Template(text).substitute(SAMPLE)


def _schema() -> Schema:
    """Tables from their schema files, then each view's output, in dependency order."""
    tables: dict[str, dict[str, str]] = {t: dict(c) for t, c in TABLE_COLUMNS.items()}
    schema = {"proj": {"data": tables}}
    for view in VIEWS:
        query = check_query(render((VIEW_QUERIES / f"{view}.sql").read_text()), schema)
        tables[view] = dict.fromkeys(query.named_selects, "STRING")
    return schema


def check_query(text: str, schema: Schema) -> exp.Query:
    """Parse and qualify a query: every column must resolve; record fields must exist."""
    for record, field in re.findall(r"\b(\w+)\.(\w+)\b", text):
        if record in RECORDS:
            assert field in RECORDS[record], f"{record}.{field} is not a field of {record}"
    tree = sqlglot.parse_one(text, read="bigquery")
    if isinstance(tree, exp.Insert):
        tree = tree.expression
    assert isinstance(tree, exp.Query), type(tree)
    qualified = qualify(
        tree,
        schema=cast(dict[str, object], schema),
        dialect="bigquery",
        validate_qualify_columns=True,
    )
    assert isinstance(qualified, exp.Query)
    return qualified


def _closing(text: str, start: int) -> int:
    """The index of the parenthesis closing the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise AssertionError(f"unbalanced parenthesis at {start}")


def replace_ml_calls(text: str, schema: Schema) -> str:
    """Check each ML call's outline and replace it by a stand-in table of its outputs."""
    while match := _CALL.search(text):
        function, open_at = match.group(1), match.end() - 1
        inner = text[open_at + 1 : _closing(text, open_at)]
        if function == "AI.FORECAST":
            end = _closing(inner, inner.index("("))
            source = check_query(inner[inner.index("(") + 1 : end], schema)
            args = dict(re.findall(r"(\w+)\s*=>\s*([^,]+?)\s*(?:,|$)", inner[end + 1 :]))
            assert set(args) <= ML_OPTIONS[function], set(args) - ML_OPTIONS[function]
            ids = re.findall(r"'(\w+)'", args.get("id_cols", ""))
            for column in [args["data_col"].strip("'"), args["timestamp_col"].strip("'"), *ids]:
                assert column in source.named_selects, f"AI.FORECAST reads no {column}"
        else:
            outline = re.fullmatch(
                r"\s*MODEL\s+`proj\.data\.\w+`\s*,\s*STRUCT\((?P<options>[^()]*)\)\s*", inner
            )
            assert outline, f"{function}({inner}) is not MODEL `p.d.m`, STRUCT(...)"
            options = set(re.findall(r"\bAS\s+(\w+)", outline["options"]))
            assert options <= ML_OPTIONS[function], options - ML_OPTIONS[function]
            ids = ["camera_id"]
        stand_in = "ml_" + function.replace(".", "_").lower()
        schema["proj"]["data"][stand_in] = dict.fromkeys(
            [*ids, *ML_OUTPUTS[function].split()], "STRING"
        )
        text = f"{text[: match.start()]}`proj.data.{stand_in}`{text[_closing(text, open_at) + 1 :]}"
    return text


def check_file(text: str) -> None:
    """Check one ``ml/*.sql`` text (placeholders filled)."""
    schema = _schema()
    if "CREATE OR REPLACE MODEL" in text:
        tree = sqlglot.parse_one(text, read="bigquery")
        assert isinstance(tree, exp.Create)
        assert tree.kind == "MODEL"
        props = tree.args["properties"].expressions
        options = {p.this.name.lower(): p.text("value") for p in props}
        assert set(options) <= ARIMA_PLUS_OPTIONS, set(options) - ARIMA_PLUS_OPTIONS
        query = check_query(tree.expression.sql("bigquery"), schema)
        for col in ("time_series_timestamp_col", "time_series_data_col", "time_series_id_col"):
            assert options[col] in query.named_selects, f"{col} {options[col]} is not selected"
        return
    text = replace_ml_calls(text, schema)
    tree = sqlglot.parse_one(text, read="bigquery")
    query = check_query(text, schema)
    if isinstance(tree, exp.Insert):
        table = tree.this.this.name
        named = [c.name for c in tree.this.expressions]
        assert set(named) <= set(TABLE_COLUMNS[table]), set(named) - set(TABLE_COLUMNS[table])
        assert len(named) == len(query.selects), "INSERT names and SELECT values differ in number"


@pytest.mark.parametrize("path", ML_FILES, ids=lambda p: p.stem)
def test_ml_file_parses_and_names_only_real_columns(path: Path) -> None:
    check_file(render(path.read_text()))


@pytest.mark.parametrize("name", ["train_arima_plus", "forecast", "ai_forecast"])
def test_sqlglot_parses_these_whole(name: str) -> None:
    tree = sqlglot.parse_one(render((ML_QUERIES / f"{name}.sql").read_text()), read="bigquery")
    assert isinstance(tree, exp.Create | exp.Insert)


@pytest.mark.parametrize("name", VIEWS)
def test_view_parses_and_reads_only_real_columns(name: str) -> None:
    schema = _schema()  # qualifies every view in order (a failure names the view)
    assert set(schema["proj"]["data"][name]) >= {"camera_id"}


def test_forecast_series_has_the_contract_columns() -> None:
    columns = list(_schema()["proj"]["data"]["forecast_series"])
    assert columns == ["camera_id", "metric", "bucket", "value", "frames", "simulated"]


@pytest.mark.parametrize(
    ("table", "function", "ours"),
    [
        # The output tables hold exactly the function's columns, plus ours.
        ("forecasts", "ML.FORECAST", {"camera_id", "metric"}),
        (
            "anomalies",
            "ML.DETECT_ANOMALIES",
            {"anomaly_id", "camera_id", "metric", "anomaly_prob_threshold"},
        ),
    ],
)
def test_output_tables_have_the_ml_functions_columns(
    table: str, function: str, ours: set[str]
) -> None:
    assert set(TABLE_COLUMNS[table]) - ours - MODEL_COLUMNS == set(ML_OUTPUTS[function].split())


def test_components_are_explain_forecasts_columns() -> None:
    parts = set(TABLE_COLUMNS["forecast_components"]) - {"camera_id", "metric"} - MODEL_COLUMNS
    assert parts <= set(ML_OUTPUTS["ML.EXPLAIN_FORECAST"].split())


@pytest.mark.parametrize(
    "name", ["forecast", "detect_anomalies", "explain_forecast", "ai_forecast"]
)
def test_inserts_fill_every_column_of_their_table(name: str) -> None:
    tree = sqlglot.parse_one(
        replace_ml_calls(render((ML_QUERIES / f"{name}.sql").read_text()), _schema()),
        read="bigquery",
    )
    assert isinstance(tree, exp.Insert)
    assert [c.name for c in tree.this.expressions] == list(TABLE_COLUMNS[tree.this.this.name])


def test_ai_forecast_derives_the_standard_error_as_the_domain_does() -> None:
    text = (ML_QUERIES / "ai_forecast.sql").read_text()
    z = re.search(r"\(2 \* ([\d.]+)\)", text)
    assert z is not None
    assert float(z.group(1)) == pytest.approx(z_score(FORECAST_CONFIDENCE), abs=1e-15)


@pytest.mark.parametrize(
    ("name", "old", "new", "error"),
    [
        # Each a modified copy of a real file, with one mistake the checks must find.
        (
            "forecast",
            "  standard_error,\n  confidence_level,\n  prediction",
            "  standard_eror,\n  confidence_level,\n  prediction",
            "standard_eror",
        ),
        (
            "forecast",
            "SELECT\n  camera_id,\n  '${metric}',\n  forecast_timestamp",
            "SELECT\n  camera_id,\n  '${metric}',\n  forecast_time",
            "forecast_time",
        ),
        (
            "detect_anomalies",
            "AS anomaly_prob_threshold)",
            "AS anomaly_threshold)",
            "anomaly_threshold",
        ),
        ("explain_forecast", "seasonal_period_daily,", "seasonal_period_hourly,", "hourly"),
        ("evaluate", "AIC AS aic", "AICC AS aic", "AICC"),
        ("train_arima_plus", "clean_spikes_and_dips", "clean_spikes", "clean_spikes"),
        (
            "train_arima_plus",
            "SELECT camera_id, bucket, value",
            "SELECT camera_id, bucket, values",
            "values",
        ),
        (
            "ai_forecast",
            "timestamp_col => 'bucket'",
            "timestamp_col => 'bucket_start'",
            "bucket_start",
        ),
    ],
)
def test_a_mistake_in_a_copy_is_caught(name: str, old: str, new: str, error: str) -> None:
    text = (ML_QUERIES / f"{name}.sql").read_text()
    assert old in text
    with pytest.raises((AssertionError, sqlglot.errors.SqlglotError), match=f"(?i){error}"):
        check_file(render(text.replace(old, new, 1)))


@pytest.mark.parametrize(
    ("view", "old", "new", "error"),
    [
        ("counts_15min", "COALESCE(counts.bus, 0)", "COALESCE(counts.buss, 0)", "buss"),
        (
            "violations_hourly",
            "COUNT(DISTINCT violation_id)",
            "COUNT(DISTINCT violation)",
            "violation",
        ),
        (
            "camera_latest",
            "frame_status AS last_status",
            "frame_state AS last_status",
            "frame_state",
        ),
    ],
)
def test_a_misspelt_column_in_a_view_copy_is_caught(
    view: str, old: str, new: str, error: str
) -> None:
    text = (VIEW_QUERIES / f"{view}.sql").read_text()
    assert old in text
    schema = _schema()
    with pytest.raises((AssertionError, sqlglot.errors.SqlglotError), match=f"(?i){error}"):
        check_query(render(text.replace(old, new)), schema)
