"""``make chaos``: faults a cloud deployment meets, injected into the local stack while sweeps
run; prints what became of every camera job and alert. Exits 1 when anything was lost or
duplicated, or a transient fault dead-lettered anything (docs/faults.md)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.chaos.faults import FAULT_BY_NAME, FAULTS, Fault
from tests.chaos.report import phase_lines, totals
from tests.chaos.run import Phase, Result, Runner, registry, start

EMULATORS = ("PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=120, help="cameras per sweep")
    parser.add_argument(
        "--faults",
        default=",".join(f.name for f in FAULTS),
        help="comma-separated: " + ", ".join(FAULT_BY_NAME),
    )
    parser.add_argument(
        "--no-together", action="store_true", help="skip the last sweep with every fault at once"
    )
    parser.add_argument("--timeout", type=float, default=300, help="per sweep, seconds")
    parser.add_argument("--work", default=".stack/chaos", help="logs and data (kept)")
    args = parser.parse_args(argv)
    faults = [FAULT_BY_NAME[name] for name in args.faults.split(",") if name]
    began = time.monotonic()
    results = chaos(faults, args.cameras, Path(args.work), args.timeout, not args.no_together)
    ok = totals(results, say)
    say(f"make chaos: {time.monotonic() - began:.0f} s; {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


def chaos(
    faults: Sequence[Fault], cameras: int, work: Path, timeout_s: float, together: bool
) -> list[Result]:
    """A sweep of ``cameras`` per fault (and one with every fault at once when ``together``)
    on a stack of its own in ``work`` (emptied first, its logs kept after)."""
    labels = [f.name for f in faults] + (["together"] if together else [])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ids = registry(labels, cameras, work / "cameras.yaml")
    say(f"== make chaos: {len(labels)} sweeps of {cameras} cameras; logs in {work}/logs ==")
    saved = dict(os.environ)  # the Runner points the Google clients at this stack
    for name in [n for n in os.environ if n.startswith("CAMWATCH_") or n in EMULATORS]:
        del os.environ[name]  # the stack's processes inherit it: only this stack's settings
    local = start(work, work / "cameras.yaml")
    try:
        runner = Runner(local, say, timeout_s)
        say("warm-up sweep (no fault): model loaded, connections open")
        runner.run(Phase("warm", (), ids["warm"][: min(10, cameras)]))
        results = []
        for label in labels:
            chosen = tuple(faults) if label == "together" else (FAULT_BY_NAME[label],)
            say(f"\n[{label}] " + "; ".join(f.title for f in chosen))
            result = runner.run(Phase(label, chosen, ids[label]))
            for line in phase_lines(result):
                say(line)
            results.append(result)
        return results
    finally:
        local.stop()
        os.environ.clear()
        os.environ.update(saved)


if __name__ == "__main__":
    sys.exit(main())
