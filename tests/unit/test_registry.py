"""The registry models, the JSON Schema and the demo registry agree."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared.domain.registry import (
    Burst,
    CameraRules,
    Location,
    Registry,
    Zone,
    ZoneType,
    load_registry,
    parse_registry,
)
from shared.domain.rule_config import Congestion
from shared.domain.schedules import Window
from shared.errors import CameraNotFoundError, ConfigError
from shared.settings import ASSETS

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "schemas" / "camera_registry.schema.json").read_text()
)
DEMO_ENV = {"CAMWATCH_DEMO_CAMERA_URL": "http://127.0.0.1:1", "CAMWATCH_DEMO_BUCKET": "b"}
GOOD: dict[str, Any] = {
    "cameras": [
        {
            "id": "cam-1",
            "name": "Main St",
            "source": "https://example.org/cam1.jpg",
            "location": {"lat": 51.5, "lon": -0.12},
            "zones": [{"name": "bus", "type": "bus_lane", "polygon": [[0, 0.5], [1, 0.5], [1, 1]]}],
            "rules": {"min_score": 0.5, "classes": ["car", "bus"], "stale_after_s": 60},
        }
    ]
}


PEAK = [{"days": ["mon", "tue"], "start": "07:00", "end": "10:00"}]
SCHEDULED = copy.deepcopy(GOOD)
SCHEDULED["cameras"][0]["timezone"] = "Europe/London"
SCHEDULED["cameras"][0]["zones"][0]["schedule"] = PEAK
SCHEDULED["cameras"][0]["rules"] |= {
    "min_scores": {"car": 0.6, "person": 0.3},
    "min_area": 0.001,
    "max_area": 0.5,
    "masks": [[[0, 0], [1, 0], [1, 0.1]]],
}

ROAD = copy.deepcopy(GOOD)  # a roadway watched for congestion, a double-parking lane
ROAD["cameras"][0]["zones"] = [
    {
        "name": "road",
        "type": "roadway",
        "polygon": [[0, 0.5], [1, 0.5], [1, 1]],
        "congestion": {"vehicles": 8, "share": 0.6, "observations": 2},
        "dwell_s": 5,
    },
    {"name": "lane", "type": "double_parking", "polygon": [[0, 0], [1, 0], [1, 0.4]]},
]
ROAD["cameras"][0]["rules"] |= {"stop_s": 30, "park_s": 120.5, "box_s": 10}
BOX = copy.deepcopy(GOOD)  # an intersection, swept every 300 s by default
BOX["cameras"][0]["zones"] = [
    {"name": "box", "type": "intersection", "polygon": [[0, 0.5], [1, 0.5], [1, 1]]}
]


def _with(path: str, value: Any) -> dict[str, Any]:
    """GOOD with one value replaced (``path`` like ``cameras.0.zones.0.type``)."""
    return _set(GOOD, path, value)


def _set(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``base`` with one value replaced."""
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = doc
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return doc


def _schema_accepts(doc: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)


def _model_accepts(doc: dict[str, Any]) -> bool:
    try:
        parse_registry(yaml.safe_dump(doc))
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("doc", [GOOD, SCHEDULED, ROAD])
def test_good_documents_are_accepted_by_both(doc: dict[str, Any]) -> None:
    assert _schema_accepts(doc)
    assert _model_accepts(doc)


def test_schedule_and_filters_are_parsed() -> None:
    [camera] = parse_registry(yaml.safe_dump(SCHEDULED)).cameras
    assert camera.timezone == "Europe/London"
    [window] = camera.zones[0].schedule or []
    assert (window.start, window.end, [d.value for d in window.days]) == (
        "07:00",
        "10:00",
        ["mon", "tue"],
    )
    assert camera.rules.min_scores == {"car": 0.6, "person": 0.3}
    assert (camera.rules.min_area, camera.rules.max_area) == (0.001, 0.5)


@pytest.mark.parametrize(
    "doc",
    [
        _with("cameras.0.nmae", "typo"),  # unknown key (extra="forbid")
        _with("cameras.0.id", "Cam 1"),  # id with a space and capital
        _with("cameras.0.location.lat", 91),  # latitude out of range
        _with("cameras.0.zones.0.type", "parking"),  # unknown zone type
        _with("cameras.0.zones.0.polygon", [[0, 0], [1, 1]]),  # two vertices
        _with("cameras.0.zones.0.polygon", [[0, 0], [1.5, 0], [1, 1]]),  # outside 0..1
        _with("cameras.0.zones.0.polygon", [[0, 0], [1, 0, 3], [1, 1]]),  # 3-D vertex
        _with("cameras.0.rules.classes", ["dog"]),  # not a road user
        _with("cameras.0.rules.min_score", 1.5),  # score above 1
        _with("cameras.0.rules.stale_after_s", 0),  # stale after zero seconds
        _with("cameras.0.rules.speed_limit", 30),  # unknown rule
        {"cameras": []},  # no cameras
        _set(SCHEDULED, "cameras.0.zones.0.schedule.0.start", "7:00"),  # bad time string
        _set(SCHEDULED, "cameras.0.zones.0.schedule.0.end", "24:30"),  # past the day
        _set(SCHEDULED, "cameras.0.zones.0.schedule.0.days", ["mon", "funday"]),  # unknown day
        _set(SCHEDULED, "cameras.0.zones.0.schedule.0.days", []),  # no days
        _set(SCHEDULED, "cameras.0.zones.0.schedule", []),  # an empty schedule
        _set(SCHEDULED, "cameras.0.timezone", 5),  # not a name
        _set(SCHEDULED, "cameras.0.rules.min_scores", {"dog": 0.5}),  # not a road user
        _set(SCHEDULED, "cameras.0.rules.min_scores", {"car": 1.2}),  # score above 1
        _set(SCHEDULED, "cameras.0.rules.min_area", -0.1),  # negative area
        _set(SCHEDULED, "cameras.0.rules.max_area", 1.5),  # more than the frame
        _set(SCHEDULED, "cameras.0.rules.max_area", 0),  # nothing fits
        _set(SCHEDULED, "cameras.0.rules.masks", [[[0, 0], [1, 1]]]),  # two vertices
        _set(SCHEDULED, "cameras.0.rules.masks", [[[0, 0], [1, 2], [1, 1]]]),  # outside 0..1
        _set(SCHEDULED, "cameras.0.rules.masks", []),  # an empty list of masks
        _set(SCHEDULED, "cameras.0.zones.0.type", "double-parking"),  # not a zone type
        _set(SCHEDULED, "cameras.0.zones.0.dwell_s", -1),  # negative dwell
        _set(SCHEDULED, "cameras.0.zones.0.dwell_s", 90000),  # over a day
        _set(SCHEDULED, "cameras.0.rules.park_s", -5),  # negative threshold
        _set(SCHEDULED, "cameras.0.sweep_interval_s", 0),  # no interval
        _set(SCHEDULED, "cameras.0.zones.0.congestion", {"vehicles": 0}),  # nothing is congestion
        _set(SCHEDULED, "cameras.0.zones.0.congestion", {"share": 1.5}),  # more than the zone
        _set(SCHEDULED, "cameras.0.zones.0.congestion", {"vehicles": 3, "observations": 0}),
        {"cameras": GOOD["cameras"], "extra": 1},  # unknown top-level key
    ],
)
def test_bad_documents_are_rejected_by_both(doc: dict[str, Any]) -> None:
    assert not _schema_accepts(doc)
    assert not _model_accepts(doc)


def test_cameras_that_can_measure_the_box_are_accepted() -> None:
    for doc in (
        _set(BOX, "cameras.0.burst", {"frames": 3, "spacing_s": 10}),  # spans 20 s
        _set(BOX, "cameras.0.sweep_interval_s", 20),  # sweeps bracket 20 s
        _set(
            _set(BOX, "cameras.0.rules.box_s", 4), "cameras.0.burst", {"frames": 3, "spacing_s": 2}
        ),
        _set(BOX, "cameras.0.zones.0.dwell_s", 300),  # the zone's own dwell
    ):
        assert _schema_accepts(doc)
        assert _model_accepts(doc)


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ({"cameras": GOOD["cameras"] * 2}, "duplicate camera ids"),
        (_with("cameras.0.zones", GOOD["cameras"][0]["zones"] * 2), "zone names must be unique"),
        (_with("cameras.0.zones.0.polygon", [[0, 0], [0.5, 0.5], [1, 1]]), "no area"),
        (_with("cameras.0.zones.0.schedule", PEAK), "needs a timezone"),
        (_set(SCHEDULED, "cameras.0.timezone", "Mars/Olympus_Mons"), "unknown IANA time zone"),
        (_set(SCHEDULED, "cameras.0.timezone", "../etc/passwd"), "unknown IANA time zone"),
        (_set(SCHEDULED, "cameras.0.zones.0.schedule.0.end", "07:00"), "is empty"),
        (_set(SCHEDULED, "cameras.0.rules.min_area", 0.5), "must be below max_area"),
        (_set(SCHEDULED, "cameras.0.rules.masks", [[[0, 0], [0.5, 0.5], [1, 1]]]), "no area"),
        (_set(ROAD, "cameras.0.zones.0.congestion", {}), "needs vehicles or share"),
        (_set(ROAD, "cameras.0.zones.0.type", "bus_lane"), "congestion is watched on roadway"),
        (BOX, "block_the_box needs 20 s measured"),  # swept every 300 s, no burst
        (_set(BOX, "cameras.0.burst", {"frames": 3, "spacing_s": 5}), "burst spans 10 s"),
        (_set(BOX, "cameras.0.rules.box_s", 100), "needs 100 s measured"),
        (  # an RTSP burst reads consecutive frames: it spans no time
            _set(
                _set(BOX, "cameras.0.source", "rtsp://127.0.0.1/x"),
                "cameras.0.burst",
                {"frames": 10, "spacing_s": 5},
            ),
            "burst spans 0 s",
        ),
        (  # so does an HLS burst: frames of the newest segment
            _set(
                _set(BOX, "cameras.0.source", "https://127.0.0.1/live/index.m3u8?t=1"),
                "cameras.0.burst",
                {"frames": 5, "spacing_s": 10},
            ),
            "burst spans 0 s",
        ),
    ],
)
def test_model_checks_beyond_the_schema(doc: dict[str, Any], why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        parse_registry(yaml.safe_dump(doc))


def _props(defn: dict[str, Any]) -> set[str]:
    return set(defn["properties"])


@pytest.mark.parametrize(
    ("model", "schema_def"),
    [
        (Registry, None),
        (Location, "location"),
        (Zone, "zone"),
        (CameraRules, "rules"),
        (Burst, "burst"),
        (Window, "window"),
        (Congestion, "congestion"),
    ],
)
def test_models_and_schema_name_the_same_fields(model: Any, schema_def: str | None) -> None:
    defn = SCHEMA if schema_def is None else SCHEMA["$defs"][schema_def]
    assert set(model.model_fields) == _props(defn)


def test_camera_fields_match_schema() -> None:
    from shared.domain.registry import Camera

    assert set(Camera.model_fields) == _props(SCHEMA["$defs"]["camera"])
    required = {n for n, f in Camera.model_fields.items() if f.is_required()}
    assert required == set(SCHEMA["$defs"]["camera"]["required"])


def test_demo_registry_is_valid_and_large_enough() -> None:
    text = (ASSETS / "cameras.yaml").read_text()
    from shared.domain.registry import expand_vars

    assert _schema_accepts(yaml.safe_load(expand_vars(text, DEMO_ENV)))
    registry = load_registry(ASSETS / "cameras.yaml", env=DEMO_ENV)
    assert len(registry.cameras) >= 20
    kinds = {c.source.split("://")[0] if "://" in c.source else "file" for c in registry.cameras}
    assert {"http", "gs", "file"} <= kinds
    scheduled = registry.get("cam-002-market-6th")  # a peak-hours bus lane, a mask
    assert scheduled.timezone == "America/Los_Angeles"
    assert any(z.schedule for z in scheduled.zones)
    assert scheduled.rules.masks
    video = registry.get("cam-020-plaza-recorder").source
    assert Path(video).is_absolute()
    assert Path(video).is_file()
    # Every rule has a zone on a camera that shows time (a clip: a new frame per request),
    # so `make run` fires each one: no_standing, double_parking, block_the_box (intersection),
    # pedestrian_in_roadway (roadway beside a crosswalk) and congestion.
    clips = [c for c in registry.cameras if "/clip/" in c.source]
    on_clips = {z.type for c in clips for z in c.zones}
    assert set(ZoneType) - {ZoneType.BUS_LANE, ZoneType.BIKE_LANE} <= on_clips
    assert any(z.congestion for c in clips for z in c.zones)
    everywhere = {z.type for c in registry.cameras for z in c.zones}
    assert set(ZoneType) <= everywhere  # bus and bike lanes on the snapshot cameras


def test_unset_variable_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="CAMWATCH_DEMO_BUCKET"):
        load_registry(ASSETS / "cameras.yaml", env={"CAMWATCH_DEMO_CAMERA_URL": "http://x"})


def test_unknown_camera() -> None:
    registry = parse_registry(yaml.safe_dump(GOOD))
    assert registry.get("cam-1").name == "Main St"
    with pytest.raises(CameraNotFoundError, match="nope"):
        registry.get("nope")


def test_invalid_yaml_names_the_file() -> None:
    with pytest.raises(ConfigError, match=re.escape("cams.yaml: not valid YAML")):
        parse_registry("cameras: [", origin="cams.yaml")
