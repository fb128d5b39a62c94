"""``make chaos`` in small: one fault at a time during a sweep of a few cameras, on a stack of
its own; nothing lost, nothing duplicated, nothing dead-lettered, and each fault felt."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.__main__ import chaos
from tests.chaos.faults import FAULTS
from tests.chaos.report import totals

pytestmark = pytest.mark.e2e
CAMERAS = 10


@pytest.mark.timeout(900)  # five sweeps and their faults: about 4 minutes here
def test_each_fault_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    before = dict(os.environ)
    results = chaos(FAULTS, CAMERAS, tmp_path / "chaos", timeout_s=240, together=False)
    assert dict(os.environ) == before  # later tests' stacks inherit it: nothing may leak
    lines: list[str] = []
    assert totals(results, lines.append), "\n".join(lines)
    by_fault = {r.phase.label: r for r in results}
    assert set(by_fault) == {f.name for f in FAULTS}
    for name, result in by_fault.items():
        outcome = result.outcome
        assert not result.failures, (name, result.failures)
        assert outcome.processed == CAMERAS, (name, result.notes)
        assert outcome.alerted, f"{name}: the sweep raised no alert to deliver"
        assert outcome.clean, (name, result.notes)
    # Each fault was felt: something failed or waited while it lasted (else it tested nothing).
    for name in ("redis", "bigquery", "inference"):
        assert sum(by_fault[name].felt.values()) > 0, (name, by_fault[name].notes)
    hook = by_fault["webhook"].outcome.channels["webhook"].attempts
    assert hook["hung"], hook  # tries that timed out while it hung
    assert hook["500"], hook  # tries it refused after
    assert by_fault["smtp"].felt["redelivered"] + by_fault["smtp"].felt["waited out"] > 0
