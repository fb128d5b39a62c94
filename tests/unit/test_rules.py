"""The rules, table-driven: one frame, and sequences of frames through tracks and lifecycles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.registry import Zone
from shared.domain.rules import rule_types
from shared.domain.schedules import Day, Window
from tests.rule_sim import Row, Simulation, camera, dets, one_frame, summary

# The lower-left quarter of a 200 x 100 frame, and the rest of the bottom half.
LEFT: list[list[float]] = [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]]
RIGHT: list[list[float]] = [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]]
BOTTOM: list[list[float]] = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
CAR_IN = (10, 60, 40, 90)  # bottom-centre (25, 90): in LEFT
CAR_OUT = (120, 60, 160, 90)  # in RIGHT
CAR_JITTER = (14, 62, 44, 92)  # IoU with CAR_IN about 0.7: matched, not stationary


def zone(kind: str, polygon: list[list[float]] = LEFT, **fields: Any) -> Zone:
    return Zone.model_validate({"name": kind, "type": kind, "polygon": polygon, **fields})


@pytest.mark.parametrize(
    ("kind", "rows", "expected"),
    [
        # a car in the bus lane: confidence from score and full overlap
        ("bus_lane", [("car", 0.8, CAR_IN)], [("bus_lane", "car", 0.8)]),
        ("bus_lane", [("bus", 0.9, CAR_IN)], []),  # a bus in the bus lane is allowed
        ("bus_lane", [("car", 0.9, CAR_OUT)], []),  # a car outside the lane
        # half the box in the lane: confidence 0.8 x (0.5 + 0.5 x 0.5)
        ("bus_lane", [("car", 0.8, (0, 25, 40, 75))], [("bus_lane", "car", 0.6)]),
        ("bike_lane", [("bus", 0.9, CAR_IN)], [("bike_lane", "bus", 0.9)]),
        ("bike_lane", [("bicycle", 0.9, CAR_IN)], []),  # bikes belong there
        ("bike_lane", [("person", 0.9, CAR_IN)], []),
        ("crosswalk", [("car", 0.9, CAR_IN)], []),  # no rule of its own
        ("roadway", [("person", 0.7, CAR_IN)], [("pedestrian_in_roadway", "person", 0.7)]),
        ("roadway", [("car", 0.7, CAR_IN)], []),  # cars belong on the road
        # stationary rules find every vehicle in the zone; ready only once it has stayed
        ("no_standing", [("truck", 0.9, CAR_IN)], [("no_standing", "truck", 0.9)]),
        ("double_parking", [("car", 0.9, CAR_IN)], [("double_parking", "car", 0.9)]),
        ("no_standing", [("person", 0.9, CAR_IN)], []),
    ],
)
def test_one_frame(kind: str, rows: list[Row], expected: list[tuple[str, str, float]]) -> None:
    found = one_frame(camera(zone(kind)), dets(*rows))
    assert [(f.type, f.class_name) for f in found] == [(t, c) for t, c, _ in expected]
    for f, (_, _, score) in zip(found, expected, strict=True):
        assert f.score == pytest.approx(score, abs=0.03)


def test_a_fresh_stationary_finding_is_not_ready_a_lane_one_is() -> None:
    [lane] = one_frame(camera(zone("bus_lane")), dets(("car", 0.9, CAR_IN)))
    [stop] = one_frame(camera(zone("no_standing")), dets(("car", 0.9, CAR_IN)))
    assert (lane.ready, lane.needed_s) == (True, 0)
    assert (stop.ready, stop.since_ms, stop.needed_s) == (False, None, 60)


def test_a_person_in_a_crosswalk_is_not_in_the_roadway() -> None:
    cam = camera(zone("roadway", BOTTOM), zone("crosswalk", RIGHT))
    found = one_frame(cam, dets(("person", 0.8, CAR_IN), ("person", 0.8, CAR_OUT)))
    assert [(f.type, f.box) for f in found] == [("pedestrian_in_roadway", CAR_IN)]


PEAK = [Window(days=[Day.MON], start="07:00", end="10:00")]


@pytest.mark.parametrize(
    ("at", "found"),
    [
        (datetime(2026, 3, 9, 11, 0, tzinfo=UTC), 1),  # Monday 07:00 in New York: active
        (datetime(2026, 3, 9, 14, 0, tzinfo=UTC), 0),  # Monday 10:00 there: ended
        (datetime(2026, 3, 14, 12, 0, tzinfo=UTC), 0),  # a Saturday
        (None, 1),  # no time given: every zone counts
    ],
)
def test_a_scheduled_lane_counts_only_while_active(at: datetime | None, found: int) -> None:
    cam = camera(zone("bus_lane", schedule=PEAK), timezone="America/New_York")
    assert len(one_frame(cam, dets(("car", 0.8, CAR_IN)), at)) == found


def test_rule_types_of_a_camera() -> None:
    cam = camera(
        zone("bus_lane"),
        zone("roadway", BOTTOM, congestion={"vehicles": 2}),
        zone("intersection", RIGHT),
        sweep_interval_s=10,
    )
    assert rule_types(cam) == ["block_the_box", "bus_lane", "congestion", "pedestrian_in_roadway"]


Seq = list[tuple[float, list[Row]]]
PARKED: Seq = [(t, [("car", 0.9, CAR_IN)]) for t in (0, 30, 60, 90)]
MOVING: Seq = [  # a car creeping along: matched each time, never stationary
    (0, [("car", 0.9, (10, 60, 40, 90))]),
    (30, [("car", 0.9, (16, 60, 46, 90))]),
    (60, [("car", 0.9, (22, 60, 52, 90))]),
    (90, [("car", 0.9, (28, 60, 58, 90))]),
]
CROSSING: Seq = [(0, [("car", 0.9, CAR_IN)]), (30, []), (60, [])]


def opened_at(cam_zone: Zone, frames: Seq, **fields: Any) -> list[float]:
    """The times at which a violation opened over the sequence."""
    sim = Simulation(camera(cam_zone, **fields))
    return [t for t, rows in frames for e in sim.see(t, *rows) if e.event == "open"]


@pytest.mark.parametrize(
    ("cam_zone", "frames", "fields", "opened"),
    [
        # no_standing: stationary 60 s by default, counted from the first frame that showed it
        (zone("no_standing"), PARKED, {}, [60]),
        (zone("no_standing"), PARKED, {"rules": {"stop_s": 30}}, [30]),
        (zone("no_standing", dwell_s=90), PARKED, {"rules": {"stop_s": 30}}, [90]),  # zone's
        (zone("no_standing"), MOVING, {"rules": {"stop_s": 0}}, []),  # never stationary
        # double_parking: the park threshold (300 s by default), separate from the stop one
        (zone("double_parking"), PARKED, {"rules": {"stop_s": 10}}, []),
        (zone("double_parking"), PARKED, {"rules": {"park_s": 90}}, [90]),
        # block_the_box: stationary inside the intersection (20 s by default)
        (zone("intersection"), PARKED, {"sweep_interval_s": 20}, [30]),
        (zone("intersection"), MOVING, {"sweep_interval_s": 20}, []),
        # a lane: at once, or after a minimum dwell that a crossing car never reaches
        (zone("bus_lane"), CROSSING, {}, [0]),
        (zone("bus_lane", dwell_s=20), CROSSING, {}, []),
        (zone("bus_lane", dwell_s=20), PARKED, {}, [30]),
        (zone("bus_lane", dwell_s=20), MOVING, {}, [30]),  # moving in the lane still counts
        # a person in the roadway, with and without a dwell
        (zone("roadway"), [(0, [("person", 0.8, CAR_IN)])], {}, [0]),
        (zone("roadway", dwell_s=10), [(0, [("person", 0.8, CAR_IN)]), (30, [])], {}, []),
    ],
)
def test_dwell_rules(
    cam_zone: Zone, frames: Seq, fields: dict[str, Any], opened: list[float]
) -> None:
    assert opened_at(cam_zone, frames, **fields) == opened


THREE_CARS: list[Row] = [
    ("car", 0.9, (0, 60, 20, 90)),
    ("car", 0.7, (30, 60, 50, 90)),
    ("truck", 0.8, (60, 55, 95, 95)),
]


@pytest.mark.parametrize(
    ("watch", "frames", "opened"),
    [
        # three vehicles in the zone for two observations in a row
        ({"vehicles": 3, "observations": 2}, [(0, THREE_CARS), (30, THREE_CARS)], [30]),
        ({"vehicles": 3, "observations": 1}, [(0, THREE_CARS)], [0]),
        ({"vehicles": 4, "observations": 1}, [(0, THREE_CARS)], []),
        # the streak is broken by a quiet frame, then starts again
        (
            {"vehicles": 3, "observations": 2},
            [(0, THREE_CARS), (30, THREE_CARS[:1]), (60, THREE_CARS), (90, THREE_CARS)],
            [90],
        ),
        # by the share of the zone covered (the three boxes cover about 0.6 of it)
        ({"share": 0.5, "observations": 1}, [(0, THREE_CARS)], [0]),
        ({"share": 0.8, "observations": 1}, [(0, THREE_CARS)], []),
    ],
)
def test_congestion(watch: dict[str, Any], frames: Seq, opened: list[float]) -> None:
    assert opened_at(zone("roadway", congestion=watch), frames) == opened


def test_congestion_is_one_violation_of_the_zone_until_it_clears() -> None:
    sim = Simulation(camera(zone("roadway", congestion={"vehicles": 3, "observations": 1})))
    events = [
        e for t, rows in [(0, THREE_CARS), (30, THREE_CARS), (60, [])] for e in sim.see(t, *rows)
    ]
    assert summary(events) == [
        ("open", "congestion", None, 0),
        ("update", "congestion", None, 1),
        ("close", "congestion", None, 2),
    ]
    opened = events[0]
    assert (opened.class_name, opened.box) == ("car", (0, 55, 95, 95))  # most common, union
    assert opened.confidence == pytest.approx(0.8, abs=0.01)  # mean score, fully inside
    assert events[-1].dwell_s == 30
