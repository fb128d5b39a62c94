"""Track association across frames, table-driven: each case is a camera's frames over time."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shared.domain.detections import Detections
from shared.domain.tracks import (
    CameraTracks,
    Track,
    TrackConfig,
    Tracker,
    TrackUpdate,
    assign,
    counter_ids,
    iou_matrix,
)

CONFIG = TrackConfig(min_iou=0.3, stationary_iou=0.85, max_gap_s=600)
CAR = (100.0, 100.0, 200.0, 160.0)
CAR_JITTER = (101.0, 100.0, 201.0, 161.0)  # the same parked car, a pixel off
BUS = (60.0, 40.0, 300.0, 200.0)  # a bus in front of CAR
Frame = tuple[float, list[tuple[str, tuple[float, float, float, float]]]]  # (t in s, detections)


def dets(*rows: tuple[str, tuple[float, float, float, float]]) -> Detections:
    """A small factory: (class, box) per detection."""
    return Detections(
        np.array([r[1] for r in rows], np.float32).reshape(-1, 4),
        np.full(len(rows), 0.9, np.float32),
        np.zeros(len(rows), np.int64),
        np.array([r[0] for r in rows], dtype=object),
    )


def run(frames: list[Frame], config: TrackConfig = CONFIG) -> list[TrackUpdate]:
    """Every frame through one tracker (ids t1, t2, ...); each frame is a new image."""
    tracker, state, updates = Tracker(config, counter_ids()), CameraTracks(""), []
    for n, (t, rows) in enumerate(frames):
        update = tracker.update(state, f"frame{n}", dets(*rows), int(t * 1000))
        state = update.state
        updates.append(update)
    return updates


@pytest.mark.parametrize(
    ("frames", "ids", "ended"),
    [
        pytest.param(  # a parked car, seen every sweep
            [(0, [("car", CAR)]), (300, [("car", CAR_JITTER)]), (600, [("car", CAR)])],
            [["t1"], ["t1"], ["t1"]],
            [[], [], []],
            id="car-stays",
        ),
        pytest.param(  # two cars driving towards each other; the boxes overlap, then cross
            [
                (0, [("car", (0, 0, 40, 20)), ("car", (50, 0, 90, 20))]),
                (5, [("car", (10, 0, 50, 20)), ("car", (40, 0, 80, 20))]),
                (10, [("car", (30, 0, 70, 20)), ("car", (20, 0, 60, 20))]),  # listed swapped
            ],
            [["t1", "t2"], ["t1", "t2"], ["t2", "t1"]],
            [[], [], []],
            id="crossing-boxes",
        ),
        pytest.param(  # the detector missed the car once: within the gap it keeps its id
            [(0, [("car", CAR)]), (300, []), (600, [("car", CAR)])],
            [["t1"], [], ["t1"]],
            [[], [], []],
            id="missed-frame",
        ),
        pytest.param(  # unseen over the gap: the track ends, the car seen again is new
            [(0, [("car", CAR)]), (300, []), (601, [("car", CAR)])],
            [["t1"], [], ["t2"]],
            [[], [], ["t1"]],
            id="miss-beyond-gap",
        ),
        pytest.param(  # a bus in front of the parked car for two frames, then the car again
            [
                (0, [("car", CAR)]),
                (200, [("bus", BUS)]),
                (400, [("bus", BUS)]),
                (600, [("car", CAR_JITTER)]),
            ],
            [["t1"], ["t2"], ["t2"], ["t1"]],
            [[], [], [], []],
            id="occlusion",
        ),
        pytest.param(  # the car leaves, a truck parks on its spot: another road user
            [(0, [("car", CAR)]), (300, []), (400, [("truck", CAR)]), (1000, [("truck", CAR)])],
            [["t1"], [], ["t2"], ["t2"]],
            [[], [], [], ["t1"]],
            id="leave-then-other-class",
        ),
        pytest.param(  # the car leaves; long after, another car parks on the same spot
            [(0, [("car", CAR)]), (300, []), (700, []), (900, [("car", CAR)])],
            [["t1"], [], [], ["t2"]],
            [[], [], ["t1"], []],
            id="leave-then-same-class-later",
        ),
        pytest.param(  # a car moves on and another appears where it was: no match below min_iou
            [(0, [("car", CAR)]), (300, [("car", (180, 100, 280, 160)), ("car", CAR)])],
            [["t1"], ["t2", "t1"]],
            [[], []],
            id="moved-far-is-new",
        ),
    ],
)
def test_association(frames, ids, ended) -> None:
    updates = run(frames)
    assert [list(u.track_ids) for u in updates] == ids
    assert [[t.track_id for t in u.ended] for u in updates] == ended


def test_stationary_since_the_observation_before_reset_when_it_moves() -> None:
    frames: list[Frame] = [
        (0, [("car", CAR)]),
        (300, [("car", CAR_JITTER)]),
        (600, [("car", CAR)]),
        (900, [("car", (130, 100, 230, 160))]),  # moved 30 px: IoU 0.54
        (1200, [("car", (130, 100, 230, 160))]),
    ]
    tracks = [u.state.tracks[0] for u in run(frames)]
    assert [t.stationary_since_ms for t in tracks] == [None, 0, 0, None, 900_000]
    assert [t.first_seen_ms for t in tracks] == [0] * 5
    assert tracks[-1].last_seen_ms == 1_200_000
    assert tracks[-1].box == (130, 100, 230, 160)


def test_stationary_survives_an_occlusion() -> None:
    frames: list[Frame] = [
        (0, [("car", CAR)]),
        (300, [("car", CAR)]),
        (400, [("bus", BUS)]),
        (600, [("car", CAR_JITTER)]),
    ]
    [car] = [t for t in run(frames)[-1].state.tracks if t.class_name == "car"]
    assert (car.track_id, car.stationary_since_ms, car.misses) == ("t1", 0, 0)
    hidden = next(t for t in run(frames[:3])[-1].state.tracks if t.class_name == "car")
    assert (hidden.misses, hidden.last_seen_ms) == (1, 300_000)


def test_a_repeated_frame_keeps_tracks_alive_without_judging_motion() -> None:
    tracker = Tracker(CONFIG, counter_ids())
    first = tracker.update(CameraTracks(""), "h1", dets(("car", CAR)), 0)
    again = tracker.update(first.state, "h1", dets(("car", CAR)), 500_000)
    [car] = again.state.tracks
    assert again.track_ids == ("t1",)
    assert (car.last_seen_ms, car.stationary_since_ms) == (500_000, None)
    # Kept alive: a new frame 500 s after the repeat (1000 s after the first) continues it.
    later = tracker.update(again.state, "h2", dets(("car", CAR)), 1_000_000)
    assert later.track_ids == ("t1",)
    assert later.ended == ()
    assert later.state.tracks[0].stationary_since_ms == 1_000_000


def test_assignment_is_optimal_not_greedy() -> None:
    # Greedy takes the best pair (0.9) and leaves 0.3: total 1.2. The optimum pairs crosswise: 1.6.
    iou = np.array([[0.9, 0.8], [0.8, 0.3]])
    assert sorted(assign(iou, iou >= 0.3)) == [(0, 1), (1, 0)]


def test_greedy_would_lose_a_track_on_boxes() -> None:
    # Track A overlaps both detections; track B only the one A overlaps most. Greedy gives A
    # that one and B nothing (a new id); the assignment keeps both.
    a, b = (0.0, 0.0, 100.0, 100.0), (50.0, 0.0, 150.0, 100.0)
    d_mid, d_left = (20.0, 0.0, 120.0, 100.0), (-30.0, 0.0, 70.0, 100.0)
    updates = run([(0, [("car", a), ("car", b)]), (300, [("car", d_mid), ("car", d_left)])])
    iou = iou_matrix(np.array([a, b]), np.array([d_mid, d_left]))
    assert iou[0, 0] > max(iou[0, 1], iou[1, 0])  # the trap: greedy pairs A with d_mid ...
    assert iou[1, 1] < CONFIG.min_iou  # ... and B with nothing
    assert updates[1].track_ids == ("t2", "t1")


def test_many_cars_keep_their_ids_in_any_order() -> None:
    rng = np.random.default_rng(7)
    grid = [(x * 120.0, y * 80.0) for x in range(5) for y in range(4)]
    boxes = [(x, y, x + 100.0, y + 60.0) for x, y in grid]
    moved = [
        (x1 + d, y1, x2 + d, y2)
        for (x1, y1, x2, y2), d in zip(boxes, rng.uniform(-20, 20, 20), strict=True)
    ]
    order = rng.permutation(20)
    updates = run([(0, [("car", b) for b in boxes]), (300, [("car", moved[i]) for i in order])])
    assert updates[1].track_ids == tuple(f"t{i + 1}" for i in order)


def test_assign_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        iou = rng.uniform(0, 1, (4, 4))
        allowed = iou >= 0.3
        best = max(
            sum(iou[i, j] for i, j in enumerate(p) if allowed[i, j])
            for p in itertools.permutations(range(4))
        )
        assert sum(iou[i, j] for i, j in assign(iou, allowed)) == pytest.approx(best)


def test_classes_never_match() -> None:
    updates = run([(0, [("car", CAR)]), (10, [("truck", CAR), ("car", (500, 0, 600, 60))])])
    assert updates[1].track_ids == ("t2", "t3")
    assert updates[1].state.tracks[0].misses == 1  # the car, unseen


def test_iou_matrix() -> None:
    iou = iou_matrix(
        np.array([[0, 0, 10, 10]]),
        np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]]),
    )
    assert iou.tolist() == [[1.0, pytest.approx(1 / 3), 0.0, 0.0]]
    assert iou_matrix(np.empty((0, 4)), np.empty((2, 4))).shape == (0, 2)


def test_json_round_trip() -> None:
    state = CameraTracks(
        "abc", (Track("t1", "car", CAR, 1, 2, 2, 0), Track("t2", "bus", BUS, 3, 4, None, 1))
    )
    assert CameraTracks.from_json(state.to_json()) == state
    assert CameraTracks.from_json(None) == CameraTracks("")
