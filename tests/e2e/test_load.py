"""``make load`` in small: the same code (``tests.load``) with 150 requests in flight at once,
the limiter, storms of 20, and its rules asserted (timings are not).

It starts a stack of its own: its cameras, caches and alerts touch no other test's.
"""

from __future__ import annotations

import pytest

from tests.load.__main__ import Report, parse, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def report() -> Report:
    small = ["--requests", "150", "--in-flight", "150", "--limited", "60", "--storm", "20"]
    return run(parse(small))


def test_under_load_only_200_and_429_503_with_retry_after(report: Report) -> None:
    assert report.load is not None
    assert len(report.load.results) == 150
    assert set(report.load.statuses) <= {"200", "429", "503"}, report.load.statuses
    assert report.load.refused_without_retry_after() == 0
    assert not report.load.errors, report.load.errors


def test_the_answers_show_the_planned_mix(report: Report) -> None:
    assert report.load is not None
    assert report.misses_planned == 30
    assert report.load.cache == {"hit": 120, "miss": 30}


def test_the_limiter_answers_429_with_retry_after(report: Report) -> None:
    assert report.limiter is not None
    statuses = report.limiter.statuses
    assert set(statuses) <= {"200", "429"}, statuses
    assert 1 <= statuses["200"] < 60  # the bucket (10) and what refilled, not all 60
    assert statuses["429"] >= 1
    assert report.limiter.refused_without_retry_after() == 0


def test_each_storm_gives_one_row_and_one_alert_per_channel(report: Report) -> None:
    job, alert = report.storms
    assert job.counts == {"observation rows": 1}
    assert alert.counts == {
        "alerts rows": 1,
        "enforcement (webhook)": 1,
        "ops-email (email)": 1,
        "ops-chat (webhook)": 0,
    }
    assert (job.lost, alert.lost) == (0, 0)


def test_nothing_else_broke_a_rule(report: Report) -> None:
    assert report.problems == []
