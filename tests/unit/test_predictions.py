"""Predictions: the questions checked, the horizon counted from now, other confidence levels
derived from the standard error, and the cache (hits from Redis, every miss in one query)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from statistics import NormalDist
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from shared.domain.prediction_requests import PredictionQuery, parse_bulk, parse_query
from shared.domain.predictions import CameraForecasts, MetricForecast, Point, answer, collect
from shared.errors import BadRequestError, CameraNotFoundError, DependencyUnavailableError
from shared.service_layer.predictions import PredictionService
from tests.unit.fakes import FakeCache, registry_of

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas" / "predictions"
NOW = datetime(2026, 11, 30, 10, 5, tzinfo=UTC).timestamp()  # 10:05, inside the 10:00 bucket
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp()
CAMERAS = ("cam-001-market-5th", "cam-002-market-6th", "cam-003-short")
REGISTRY = registry_of(*({"id": c, "source": f"http://c/{c}.jpg"} for c in CAMERAS))


def schema_check(name: str, body: Any) -> None:
    """Validate against ``schemas/predictions/{name}`` (refs resolved within the folder)."""
    resources = [
        (s["$id"], Resource.from_contents(s))
        for s in (json.loads(p.read_text()) for p in SCHEMAS.glob("*.json"))
    ]
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator(
        schema,
        registry=Registry().with_resources(resources),
        format_checker=jsonschema.FormatChecker(),
    ).validate(body)


# --- the questions ---------------------------------------------------------------------------


def test_a_query_string_is_read_as_minutes_metric_and_level() -> None:
    assert parse_query({"horizon": "60"}, 1440) == PredictionQuery(60, "vehicles", 0.95)
    assert parse_query(
        {"horizon": "1440", "metric": "persons", "confidence": "0.8"}, 1440
    ) == PredictionQuery(1440, "persons", 0.8)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ({}, "horizon is required"),
        ({"horizon": "0"}, "out of range: 1 to 1440"),
        ({"horizon": "1441"}, "out of range: 1 to 1440"),
        ({"horizon": "60.5"}, "not a whole number"),
        ({"horizon": "-5"}, "not a whole number"),
        ({"horizon": "soon"}, "not a whole number"),
        ({"horizon": "60", "metric": "trucks"}, "unknown metric 'trucks'"),
        ({"horizon": "60", "confidence": "0.3"}, "out of range: 0.5 to 0.999"),
        ({"horizon": "60", "confidence": "1"}, "out of range: 0.5 to 0.999"),
        ({"horizon": "60", "confidence": "nan"}, "not a number"),
        ({"horizon": "60", "confidence": ""}, "not a number"),
        ({"horizon": "60", "horizont": "5"}, "unknown query parameters ['horizont']"),
    ],
)
def test_a_bad_query_string_is_refused_with_its_reason(args: dict[str, str], says: str) -> None:
    with pytest.raises(BadRequestError, match=None) as caught:
        parse_query(args, 1440)
    assert says in caught.value.message


def test_a_bulk_body_names_cameras_once_in_order() -> None:
    body = {"cameras": ["cam-b1", "cam-a1", "cam-b1"], "horizon": 30, "confidence": 0.9}
    cameras, query = parse_bulk(body, 1440, 100)
    assert cameras == ("cam-b1", "cam-a1")
    assert query == PredictionQuery(30, "vehicles", 0.9)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (None, "the body is empty"),
        ([], "the body is a JSON list"),
        ({"horizon": 60}, "cameras must be a non-empty list"),
        ({"cameras": [], "horizon": 60}, "cameras must be a non-empty list"),
        ({"cameras": "cam-1", "horizon": 60}, "cameras must be a non-empty list"),
        ({"cameras": ["cam-1"] * 4, "horizon": 60}, "4 cameras is over the limit of 3"),
        ({"cameras": ["cam-1"]}, "horizon is required"),
        ({"cameras": ["cam-1"], "horizon": "60"}, "not a whole number"),
        ({"cameras": ["cam-1"], "horizon": 60.0}, "not a whole number"),
        ({"cameras": ["cam-1"], "horizon": True}, "not a whole number"),
        ({"cameras": ["Cam 1"], "horizon": 60}, "malformed camera id 'Cam 1'"),
        ({"cameras": [7], "horizon": 60}, "malformed camera id '7'"),
        ({"cameras": ["cam-1"], "horizon": 60, "confidence": "0.9"}, "not a number"),
        ({"cameras": ["cam-1"], "horizon": 60, "extra": 1}, "unknown fields ['extra']"),
        ({"cameras": ["cam-1"], "horizon": 60, "metric": []}, "unknown metric '[]'"),
        ({"cameras": ["cam-1"], "horizon": 60, "metric": {"a": 1}}, "unknown metric"),
    ],
)
def test_a_bad_bulk_body_is_refused_with_its_reason(body: Any, says: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_bulk(body, 1440, 3)
    assert says in caught.value.message


# --- the answer ------------------------------------------------------------------------------


def series(metric: str = "vehicles", steps: int = 12, **changes: Any) -> MetricForecast:
    """A forecast from 09:00, one point per bucket (to 11:45, or 20:00 for violations), value
    10 + i, standard error 2."""
    bucket = 3600 if metric == "violations" else 900
    points = tuple(
        Point(T0 + i * bucket, 10.0 + i, 2.0, 10.0 + i - 3.92, 10.0 + i + 3.92)
        for i in range(steps)
    )
    base: dict[str, Any] = {
        "metric": metric,
        "status": "forecast",
        "reason": "",
        "run_id": "run-1",
        "trained_at": "2026-11-30T09:00:00Z",
        "model_name": "local.statsforecast.mstl_autoarima",
        "model_version": "v1",
        "backend": "local",
        "last_point": points[-1].timestamp if points else None,
        "points": points,
    }
    return MetricForecast(**{**base, **changes})


def forecasts(*metrics: MetricForecast) -> CameraForecasts:
    return CameraForecasts("cam-001-market-5th", NOW, {m.metric: m for m in metrics})


def times(body: dict[str, Any]) -> list[str]:
    return [p["timestamp"][11:16] for p in body["points"]]


def test_the_horizon_counts_from_now_and_past_buckets_are_dropped() -> None:
    got = answer(forecasts(series()), PredictionQuery(60), NOW).as_answer()
    # 09:00 to 09:45 have ended; 10:00 is under way at 10:05; 11:00 starts within 60 minutes.
    assert times(got) == ["10:00", "10:15", "10:30", "10:45", "11:00"]
    assert got["status"] == "ok"
    assert got["forecast_until"] == "2026-11-30T12:00:00Z"  # 12 buckets from 09:00
    schema_check("prediction", got)


def test_violations_count_by_the_hour() -> None:
    got = answer(forecasts(series("violations", 8)), PredictionQuery(120, "violations"), NOW)
    assert times(got.as_answer()) == ["10:00", "11:00", "12:00"]


def test_a_horizon_beyond_the_last_point_says_how_far_forecasts_reach() -> None:
    got = answer(forecasts(series()), PredictionQuery(115), NOW)  # 10:05 + 115 = 12:00
    assert got.outcome == "ok"
    got = answer(forecasts(series()), PredictionQuery(115), NOW + 60)  # 12:01 > 12:00
    assert got.outcome == "out_of_range"
    assert "reach 2026-11-30T12:00:00Z, 114 minutes from now" in got.message
    assert "at most 114 minutes" in got.message
    schema_check("prediction", got.as_answer())


def test_a_forecast_that_has_ended_says_the_job_has_not_run_since() -> None:
    got = answer(forecasts(series()), PredictionQuery(15), NOW + 7200)
    assert got.outcome == "out_of_range"
    assert "ended at 2026-11-30T12:00:00Z" in got.message
    assert "has not run since" in got.message


def test_no_forecast_says_why() -> None:
    low = series(status="none", reason="low coverage: 72% of buckets", points=(), last_point=None)
    got = answer(forecasts(low), PredictionQuery(60), NOW).as_answer()
    assert got["status"] == "no_forecast"
    assert got["reason"] == "no vehicles forecast: low coverage: 72% of buckets"
    assert "points" not in got
    schema_check("prediction", got)
    never = answer(forecasts(), PredictionQuery(60), NOW).as_answer()
    assert never["status"] == "no_forecast"
    assert "no forecast run has covered this camera's vehicles" in never["reason"]
    schema_check("prediction", never)


def test_the_stored_level_keeps_its_interval_and_others_come_from_the_standard_error() -> None:
    at95 = answer(forecasts(series()), PredictionQuery(15), NOW).points[0]
    # the first bucket still under way is 10:00, the fifth of the series: value 14
    assert (at95["lower"], at95["upper"]) == (pytest.approx(14 - 3.92), pytest.approx(14 + 3.92))
    at80 = answer(forecasts(series()), PredictionQuery(15, confidence=0.8), NOW).points[0]
    z = NormalDist().inv_cdf(0.9)  # 1.2816
    assert at80["lower"] == pytest.approx(14 - z * 2, abs=1e-4)
    assert at80["upper"] == pytest.approx(14 + z * 2, abs=1e-4)
    assert at80["value"] == 14.0


def test_a_derived_lower_bound_never_goes_below_zero() -> None:
    point = Point(NOW, 1.0, 2.0, 0.0, 4.92)
    assert point.bounds(0.99)[0] == 0.0
    assert point.bounds(0.99)[1] == pytest.approx(1 + 2.5758 * 2, abs=1e-3)


def test_without_a_standard_error_the_spread_comes_from_the_stored_interval() -> None:
    point = Point(NOW, 10.0, None, 10 - 3.92, 10 + 3.92)
    assert point.spread() == pytest.approx(2.0, abs=1e-3)
    assert Point(NOW, 10.0, None, None, None).bounds(0.8) == (None, None)


def test_cached_forecasts_read_back_as_they_were() -> None:
    stored = forecasts(series(), series("persons", status="short_history"))
    assert CameraForecasts.from_json(stored.to_json()) == stored


def test_query_rows_become_each_cameras_forecasts() -> None:
    head: dict[str, Any] = {
        "status": "forecast",
        "reason": None,
        "run_id": "run-9",
        "trained_at": datetime(2026, 11, 30, 9, tzinfo=UTC),
        "model_name": "m",
        "model_version": "1",
        "backend": "local",
        "last_point": datetime(2026, 11, 30, 11, tzinfo=UTC),
    }
    rows: list[dict[str, Any]] = [
        {
            "camera_id": "cam-001-market-5th",
            "metric": "vehicles",
            **head,
            "forecast_timestamp": datetime(2026, 11, 30, 10, 15, tzinfo=UTC),
            "forecast_value": 4,
            "standard_error": 1,
            "lower_bound": 2,
            "upper_bound": 6,
        },
        {
            "camera_id": "cam-001-market-5th",
            "metric": "vehicles",
            **head,
            "forecast_timestamp": "2026-11-30T10:00:00Z",  # the emulator answers text at times
            "forecast_value": 3,
            "standard_error": None,
            "lower_bound": 1,
            "upper_bound": 5,
        },
        {
            "camera_id": "cam-001-market-5th",
            "metric": "persons",
            **head,
            "status": "none",
            "reason": "too little history",
            "last_point": None,
            "forecast_timestamp": None,
            "forecast_value": None,
            "standard_error": None,
            "lower_bound": None,
            "upper_bound": None,
        },
    ]
    found = collect(rows, ("cam-001-market-5th", "cam-002-market-6th"), NOW)
    vehicles = found["cam-001-market-5th"].metrics["vehicles"]
    assert [p.value for p in vehicles.points] == [3.0, 4.0]  # in time order
    assert vehicles.trained_at == "2026-11-30T09:00:00Z"
    assert found["cam-001-market-5th"].metrics["persons"].reason == "too little history"
    assert found["cam-002-market-6th"].metrics == {}


# --- the service: the cache and the one query ------------------------------------------------


class CountingTables:
    """Answers the predictions query from canned forecasts of the cameras the SQL names: 12
    points (to 11:45, reaching 12:00) or, for the cameras in ``steps``, that many."""

    def __init__(
        self, steps: dict[str, int] | None = None, cameras: tuple[str, ...] = CAMERAS
    ) -> None:
        self.queries: list[str] = []
        self.steps = steps or {}
        self.cameras = cameras

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.queries.append(sql)
        rows = []
        for camera in self.cameras:
            if f"'{camera}'" not in sql or camera == "cam-003-short":
                continue
            points = series(steps=self.steps.get(camera, 12)).points
            for p in points:
                rows.append(
                    {
                        "camera_id": camera,
                        "metric": "vehicles",
                        "status": "forecast",
                        "reason": None,
                        "run_id": "run-1",
                        "trained_at": "2026-11-30T09:00:00Z",
                        "model_name": "m",
                        "model_version": "1",
                        "backend": "local",
                        "last_point": datetime.fromtimestamp(points[-1].timestamp, UTC),
                        "forecast_timestamp": datetime.fromtimestamp(p.timestamp, UTC),
                        "forecast_value": p.value,
                        "standard_error": p.standard_error,
                        "lower_bound": p.lower,
                        "upper_bound": p.upper,
                    }
                )
        return rows

    def insert(self, rows: Any) -> None:
        raise AssertionError("predictions never write")


def service(cache: FakeCache, tables: CountingTables) -> PredictionService:
    return PredictionService(
        REGISTRY,
        cache,
        tables,
        "proj",
        "data",
        max_minutes=1440,
        max_cameras=10,
        ttl_s=1800,
        clock=lambda: NOW,
    )


def test_bulk_reads_every_miss_in_one_query_then_answers_from_the_cache() -> None:
    cache, tables = FakeCache(), CountingTables()
    body = {"cameras": list(CAMERAS), "horizon": 60}
    first = service(cache, tables).bulk(body)
    assert len(tables.queries) == 1
    assert (first.hits, first.misses) == (0, 3)
    for camera in CAMERAS:
        value, ttl = cache.strings[f"prediction:camera:{camera}:horizon:60"]
        assert ttl == 1800
        assert CameraForecasts.from_json(value).camera_id == camera
    second = service(cache, tables).bulk(body)
    assert len(tables.queries) == 1  # no query: all three from Redis
    assert (second.hits, second.misses) == (3, 0)
    assert second.predictions == first.predictions
    answer_body = second.as_answer()
    schema_check("bulk_response", answer_body)
    statuses = [p["status"] for p in answer_body["predictions"]]
    assert statuses == ["ok", "ok", "no_forecast"]


def test_a_partly_cached_request_queries_only_its_misses() -> None:
    cache, tables = FakeCache(), CountingTables()
    service(cache, tables).bulk({"cameras": [CAMERAS[0]], "horizon": 60})
    got = service(cache, tables).bulk({"cameras": list(CAMERAS[:2]), "horizon": 60})
    assert (got.hits, got.misses) == (1, 1)
    assert len(tables.queries) == 2
    assert f"'{CAMERAS[1]}'" in tables.queries[1]
    assert f"'{CAMERAS[0]}'" not in tables.queries[1]
    service(cache, tables).bulk({"cameras": [CAMERAS[0]], "horizon": 30})  # another key
    assert len(tables.queries) == 3


def test_with_redis_down_the_answer_comes_from_bigquery() -> None:
    cache, tables = FakeCache(), CountingTables()
    cache.down = True
    got = service(cache, tables).bulk({"cameras": [CAMERAS[0]], "horizon": 60})
    assert got.predictions[0].outcome == "ok"
    assert got.misses == 1
    assert len(tables.queries) == 1


def test_an_unreadable_cached_value_is_read_again() -> None:
    cache, tables = FakeCache(), CountingTables()
    cache.strings[f"prediction:camera:{CAMERAS[0]}:horizon:60"] = ("{not json", 1800)
    got = service(cache, tables).bulk({"cameras": [CAMERAS[0]], "horizon": 60})
    assert got.misses == 1
    assert got.predictions[0].outcome == "ok"


def test_unknown_cameras_are_404_and_named() -> None:
    with pytest.raises(CameraNotFoundError) as caught:
        service(FakeCache(), CountingTables()).bulk(
            {"cameras": [CAMERAS[0], "cam-nope", "cam-gone"], "horizon": 60}
        )
    assert caught.value.message == "unknown cameras: 'cam-nope', 'cam-gone'"
    with pytest.raises(CameraNotFoundError):
        service(FakeCache(), CountingTables()).one("cam-nope", {"horizon": "60"})


def test_get_refuses_a_horizon_beyond_the_forecast() -> None:
    svc = service(FakeCache(), CountingTables())
    assert svc.one(CAMERAS[0], {"horizon": "55"}).outcome == "ok"
    with pytest.raises(BadRequestError, match="at most 115 minutes"):
        svc.one(CAMERAS[0], {"horizon": "120"})


def test_the_redis_error_type_is_the_one_the_service_expects() -> None:
    cache = FakeCache()
    cache.down = True
    with pytest.raises(DependencyUnavailableError):
        cache.get_many(["k"])


# cam-001 reaches 12:00 (115 minutes from 10:05), cam-002 11:00 (55); cam-003 has no forecast
@pytest.mark.parametrize(
    ("cameras", "horizon", "statuses"),
    [
        # one camera in range: the other answers out_of_range, the request is answered
        (CAMERAS, 60, ["ok", "out_of_range", "no_forecast"]),
        (CAMERAS[1:], 30, ["ok", "no_forecast"]),
        # no camera has a forecast: nothing is out of range, each says why
        (CAMERAS[2:], 600, ["no_forecast"]),
    ],
)
def test_bulk_answers_while_one_camera_reaches_the_horizon(
    cameras: tuple[str, ...], horizon: int, statuses: list[str]
) -> None:
    svc = service(FakeCache(), CountingTables({CAMERAS[1]: 8}))
    got = svc.bulk({"cameras": list(cameras), "horizon": horizon}).as_answer()
    schema_check("bulk_response", got)
    assert [p["status"] for p in got["predictions"]] == statuses
    for p in got["predictions"]:
        if p["status"] == "out_of_range":
            assert "at most 55 minutes" in p["reason"]


@pytest.mark.parametrize(
    ("cameras", "says"),
    [
        # every camera with a forecast is out of range, the one without aside
        (
            CAMERAS,
            ["cam-001-market-5th: vehicles forecasts reach 2026-11-30T12:00:00Z, 115 minutes"],
        ),
        # one camera: as GET refuses it
        (CAMERAS[:1], ["at most 115 minutes"]),
        (CAMERAS[1:2], ["cam-002-market-6th: vehicles forecasts reach", "at most 55 minutes"]),
    ],
)
def test_bulk_refuses_a_horizon_beyond_every_forecast(
    cameras: tuple[str, ...], says: list[str]
) -> None:
    svc = service(FakeCache(), CountingTables({CAMERAS[1]: 8}))
    with pytest.raises(BadRequestError) as caught:
        svc.bulk({"cameras": list(cameras), "horizon": 120})
    assert caught.value.message.startswith("a horizon of 120 minutes is beyond every camera's")
    for text in says:
        assert text in caught.value.message
    assert "cam-003-short" not in caught.value.message


def test_a_refusal_of_many_cameras_names_the_first_three() -> None:
    cameras = tuple(f"cam-{i:03d}" for i in range(5))
    svc = PredictionService(
        registry_of(*({"id": c, "source": f"http://c/{c}.jpg"} for c in cameras)),
        FakeCache(),
        CountingTables(cameras=cameras),
        "proj",
        "data",
        max_minutes=1440,
        clock=lambda: NOW,
    )
    with pytest.raises(BadRequestError) as caught:
        svc.bulk({"cameras": list(cameras), "horizon": 120})
    assert "cam-002" in caught.value.message
    assert "cam-003:" not in caught.value.message
    assert caught.value.message.endswith("; and 2 more cameras")
