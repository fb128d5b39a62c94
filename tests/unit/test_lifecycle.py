"""One violation per road user: open once, update, close, never alert again, old keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from shared.domain.lifecycle import Book, dwell_factor
from shared.domain.registry import Zone
from shared.domain.tracks import TrackConfig
from tests.rule_sim import Row, Simulation, camera, summary

STOP = Zone.model_validate(
    {"name": "kerb", "type": "no_standing", "polygon": [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]]}
)
PARK = camera(STOP, rules={"stop_s": 60})
CAR = (10, 60, 40, 90)
JITTER = (14, 62, 44, 92)  # IoU about 0.7 with CAR: the same track, not stationary this frame
BUS = (0, 20, 100, 95)  # in front of the car


def run(
    frames: Sequence[tuple[float, Sequence[Row]]], sim: Simulation | None = None
) -> tuple[Simulation, list[list[tuple[str, str, str | None, int]]]]:
    sim = sim or Simulation(PARK, TrackConfig(max_gap_s=300))
    return sim, [summary(sim.see(t, *rows)) for t, rows in frames]


def test_a_parked_car_opens_once_updates_and_closes_when_its_track_ends() -> None:
    _sim, events = run([(t, [("car", 0.9, CAR)]) for t in (0, 30, 60, 90, 600)] + [(900, [])])
    assert events == [
        [],
        [],
        [("open", "no_standing", "t1", 0)],
        [("update", "no_standing", "t1", 1)],
        # 600 s: unseen 510 s, over the gap: the track ended; the car there now is a new one
        [("close", "no_standing", "t1", 2)],
        [],
    ]


def test_the_close_says_how_long_it_lasted() -> None:
    sim = Simulation(PARK, TrackConfig(max_gap_s=300))
    got = [sim.see(t, ("car", 0.9, CAR)) for t in (0, 60, 120)] + [sim.see(500)]
    close = got[-1][0]
    assert close.event == "close"
    assert close.dwell_s == 120  # from the first frame that showed it to the last
    assert close.last_seen_at is not None
    assert close.last_seen_at.endswith("12:02:00+00:00")
    assert len({e.violation_id for evs in got for e in evs}) == 1


def test_a_jittering_box_stays_the_same_violation() -> None:
    boxes = [CAR, CAR, CAR, JITTER, CAR, CAR]
    _, events = run([(t * 30, [("car", 0.9, b)]) for t, b in enumerate(boxes)])
    flat = [e for evs in events for e in evs]
    assert [e[0] for e in flat] == ["open", "update", "update", "update"]


def test_a_car_hidden_by_a_bus_stays_open_without_events() -> None:
    frames = [(0, [("car", 0.9, CAR)]), (60, [("car", 0.9, CAR)]), (90, [("bus", 0.9, BUS)])]
    frames += [(120, [("car", 0.9, CAR)])]
    _, events = run(frames)
    assert events == [
        [],
        [("open", "no_standing", "t1", 0)],
        [],  # hidden: its track is alive and unseen
        [("update", "no_standing", "t1", 1)],
    ]


def test_a_car_seen_out_of_the_zone_closes() -> None:
    edge = (80, 60, 110, 90)  # bottom-centre (95, 90): in the zone, near its right edge
    frames = [(0, [("car", 0.9, edge)]), (60, [("car", 0.9, edge)])]
    frames += [(90, [("car", 0.9, (92, 60, 122, 90))])]  # anchor out, IoU 0.43: same track
    _, events = run(frames)
    assert events[-1] == [("close", "no_standing", "t1", 1)]


def test_a_car_leaving_and_another_arriving_is_a_new_violation() -> None:
    frames = [(0, [("car", 0.9, CAR)]), (60, [("car", 0.9, CAR)])]
    frames += [(400, [("truck", 0.9, CAR)]), (460, [("truck", 0.9, CAR)])]
    _, events = run(frames)
    assert events[2] == [("close", "no_standing", "t1", 1)]  # the car's track ended (gap 300)
    assert events[3] == [("open", "no_standing", "t2", 0)]


def test_the_same_frame_twice_gives_the_same_events_and_changes_nothing() -> None:
    sim = Simulation(PARK)
    sim.see(0, ("car", 0.9, CAR), frame="a")
    first = sim.see(60, ("car", 0.9, CAR), frame="b")
    books = dict(sim.books)
    again = sim.see(70, ("car", 0.9, CAR), frame="b")
    assert [e.row_id for e in again] == [e.row_id for e in first]
    assert again == first
    assert sim.books == books


def test_an_old_claim_string_is_one_violation_already_alerted() -> None:
    for claim in ("done", "pending"):
        sim = Simulation(PARK)
        sim.books["no_standing"] = Book.from_json(claim)
        events = [sim.see(t, ("car", 0.9, CAR)) for t in (0, 60, 120)]
        [opened] = events[1]
        assert opened.event == "open"
        # taken over as published: the recorder publishes nothing for it
        assert all(v.published for v in sim.books["no_standing"].open)
        assert not sim.books["no_standing"].legacy
        assert [e.event for e in events[2]] == ["update"]


def test_a_new_violation_is_unpublished_until_marked() -> None:
    from shared.domain.lifecycle import published, unpublished

    sim = Simulation(PARK)
    sim.see(0, ("car", 0.9, CAR))
    sim.books["no_standing"] = Book()
    [opened] = sim.see(60, ("car", 0.9, CAR))  # the simulation marks it published
    book = sim.books["no_standing"]
    fresh = replace(book, open=tuple(replace(v, published=False) for v in book.open))
    assert unpublished(fresh, [opened]) == [opened]
    assert unpublished(published(fresh, {opened.violation_id}), [opened]) == []


def test_a_book_round_trips_through_json() -> None:
    sim = Simulation(PARK)
    for t in (0, 60, 90):
        sim.see(t, ("car", 0.9, CAR))
    book = sim.books["no_standing"]
    assert Book.from_json(book.to_json()) == book
    assert Book.from_json(None) == Book() == Book.from_json("")


@pytest.mark.parametrize(
    ("dwell", "needed", "factor"),
    [
        (0, 0, 1.0),  # no dwell asked: the time does not count
        (60, 60, 0.9),  # just reached
        (90, 60, 0.95),
        (120, 60, 1.0),  # twice the threshold and over
        (600, 60, 1.0),
    ],
)
def test_dwell_factor(dwell: float, needed: float, factor: float) -> None:
    assert dwell_factor(dwell, needed) == pytest.approx(factor)


def test_confidence_grows_with_the_time_observed() -> None:
    sim = Simulation(PARK)
    got = [e.confidence for t in (0, 60, 90, 120) for e in sim.see(t, ("car", 0.8, CAR))]
    assert got == pytest.approx([0.72, 0.76, 0.8])
