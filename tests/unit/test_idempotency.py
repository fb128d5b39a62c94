"""The one claim: act once, confirm on success, release on failure so a retry acts."""

from __future__ import annotations

import pytest

from shared.domain.observations import FrameFailure
from shared.errors import DependencyUnavailableError
from shared.service_layer.idempotency import claim, row_id, write_once
from tests.unit.fakes import FakeCache, FakeWarehouse


class BoomError(Exception):
    pass


def test_a_claim_is_confirmed_after_the_act() -> None:
    cache = FakeCache()
    with claim(cache, "k", hold_s=60, done_s=3600) as held:
        assert held.taken
        assert cache.keys["k"] == "pending"
    assert cache.keys["k"] == "done"
    with claim(cache, "k", hold_s=60, done_s=3600) as again:
        assert not again.taken  # done: nobody acts twice
    assert cache.keys["k"] == "done"


def test_a_failed_act_releases_the_claim_for_the_retry() -> None:
    cache = FakeCache()
    with pytest.raises(BoomError), claim(cache, "k", hold_s=60, done_s=3600):
        raise BoomError
    assert "k" not in cache.keys
    with claim(cache, "k", hold_s=60, done_s=3600) as retry:
        assert retry.taken


def test_a_claim_not_taken_is_never_released_by_a_failure() -> None:
    cache = FakeCache()
    cache.claim("k", 60)  # another instance holds it

    def act() -> None:
        with claim(cache, "k", hold_s=60, done_s=3600) as held:
            assert not held.taken
            raise BoomError

    with pytest.raises(BoomError):
        act()
    assert cache.keys["k"] == "pending"  # still theirs


def test_confirmed_early_a_claim_survives_a_later_failure() -> None:
    cache = FakeCache()

    def act() -> None:
        with claim(cache, "k", hold_s=60, done_s=3600) as held:
            held.confirm()  # e.g. the alert was published
            raise BoomError  # a later step failed

    with pytest.raises(BoomError):
        act()
    assert cache.keys["k"] == "done"


def test_write_once_writes_a_row_once_and_again_after_a_failure() -> None:
    rid = row_id("cam-1", "timeout", "2026-11-29T12:00:00+00:00")
    row = FrameFailure(
        rid, "cam-1", "2026-11-29T12:00:00+00:00", "timeout", "slow", "http", "r", None
    )
    cache, warehouse = FakeCache(), FakeWarehouse()
    warehouse.fail_next = 1
    with pytest.raises(DependencyUnavailableError, match="bigquery"):
        write_once(cache, warehouse, row)
    assert cache.keys == {}  # released: the retry writes it
    assert write_once(cache, warehouse, row) is True
    assert write_once(cache, warehouse, row) is False
    assert [r["observation_id"] for r in warehouse.rows["observations"]] == [rid]
    assert cache.keys == {f"vision:write:observations:{rid}": "done"}


class LostRelease(FakeCache):
    """Redis went away mid-attempt: the release after the failure never arrived."""

    def release(self, key: str) -> None:
        return None


def test_the_same_owner_takes_back_a_claim_its_failed_attempt_kept() -> None:
    cache = LostRelease()
    with pytest.raises(BoomError), claim(cache, "k", hold_s=60, done_s=3600, owner="m-7"):
        raise BoomError
    assert cache.keys["k"] == "pending:m-7"  # outlived the attempt
    with claim(cache, "k", hold_s=60, done_s=3600, owner="m-8") as other:
        assert not other.taken  # another message: a duplicate, the owner will finish
    with claim(cache, "k", hold_s=60, done_s=3600) as anonymous:
        assert not anonymous.taken
    with claim(cache, "k", hold_s=60, done_s=3600, owner="m-7") as redelivered:
        assert redelivered.taken
        assert redelivered.retaken
    assert cache.keys["k"] == "done"
    with claim(cache, "k", hold_s=60, done_s=3600, owner="m-7") as late:
        assert not late.taken  # done is done, whoever asks


def _failure(camera: str) -> FrameFailure:
    """A health row (a camera that timed out) to write."""
    rid = row_id(camera, "timeout", "2026-11-29T12:00:00+00:00")
    return FrameFailure(
        rid, camera, "2026-11-29T12:00:00+00:00", "timeout", "slow", "http", "r", None
    )


@pytest.mark.parametrize(
    ("landed", "written_again"),
    [
        (True, False),  # BigQuery paused past the call's deadline: the insert landed late
        (False, True),  # the insert never landed: the redelivery writes it
    ],
)
def test_a_retaken_write_asks_the_table_first(landed: bool, written_again: bool) -> None:
    row = _failure("cam-1")
    cache, warehouse = LostRelease(), FakeWarehouse()
    if landed:
        warehouse.land_then_fail = 1
    else:
        warehouse.fail_next = 1
    with pytest.raises(DependencyUnavailableError):
        write_once(cache, warehouse, row, owner="m-1")
    assert write_once(cache, warehouse, row, owner="m-1") is written_again
    assert len(warehouse.rows["observations"]) == 1
    assert cache.keys[f"vision:write:observations:{row.row_id}"] == "done"


def test_a_timed_out_insert_keeps_its_claim_for_the_owners_next_try() -> None:
    """Redis is up, BigQuery answered too late (the row landed): the claim is not given back,
    so the same message's next try asks the table instead of writing the row again."""
    row = _failure("cam-3")
    cache, warehouse = FakeCache(), FakeWarehouse()
    warehouse.land_then_fail = 1
    with pytest.raises(DependencyUnavailableError):
        write_once(cache, warehouse, row, owner="m-2")
    assert cache.keys[f"vision:write:observations:{row.row_id}"] == "pending:m-2"
    assert write_once(cache, warehouse, row, owner="m-2") is False
    assert len(warehouse.rows["observations"]) == 1


def test_the_seeds_key_formats_and_every_key_built_in_one_module() -> None:
    import re
    from pathlib import Path

    from shared.service_layer import idempotency as keys

    assert keys.frame_key("cam-1", "ab") == "vision:camera:cam-1:frame:ab"
    assert keys.violation_key("cam-1", "bus_lane") == "violation:camera:cam-1:type:bus_lane"
    assert keys.prediction_key("cam-1", 60) == "prediction:camera:cam-1:horizon:60"
    root = Path(keys.__file__).parents[1]
    builders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "devstack" not in path.parts
        and re.search(r'f"(vision|alert|violation|prediction):\S', path.read_text())
    ]
    assert builders == ["service_layer/idempotency.py"]
