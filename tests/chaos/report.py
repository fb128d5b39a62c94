"""The lines ``make chaos`` prints for each phase and in total."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from tests.chaos.ledger import Channel
from tests.chaos.run import Result

Say = Callable[[str], None]


def phase_lines(result: Result) -> list[str]:
    """What one phase did to the jobs and the alerts."""
    o = result.outcome
    lines = [
        f"  camera jobs: {o.processed} processed, {sum(o.dead.values())} dead-lettered"
        + _reasons(o.dead)
        + f", {len(o.lost)} lost"
        + (f" ({', '.join(o.lost[:5])}{' ...' if len(o.lost) > 5 else ''})" if o.lost else "")
        + f"; duplicate rows: {o.duplicate_rows} observations, {o.duplicate_violations} violations",
        f"  alerts: {o.alerted} new violations to alert, {o.dispatched} dispatched, "
        f"{o.dispatch_dead} dead-lettered, {o.dispatch_lost} lost, "
        f"{o.duplicate_alert_rows} duplicate alert rows",
    ]
    for name, channel in o.channels.items():
        lines.append(f"    {name:<8} {_channel(channel)}")
    lines.append(
        "  felt by the functions: "
        + (", ".join(f"{n} tries {kind}" for kind, n in sorted(result.felt.items())) or "nothing")
    )
    lines += [f"  FAULT FAILED {failure}" for failure in result.failures]
    clean = o.clean and not result.failures
    lines.append(
        f"  outcome: {'clean' if clean else 'NOT CLEAN'}; every outcome in "
        f"{result.seconds:.1f} s after publishing"
    )
    return lines


def _reasons(dead: Counter[str]) -> str:
    if not dead:
        return ""
    return " (" + "; ".join(f"{n}: {reason[:60]}" for reason, n in dead.most_common(3)) + ")"


def _channel(c: Channel) -> str:
    tries = ", ".join(f"{k} {v}" for k, v in sorted(c.attempts.items()))
    return (
        f"{c.expected} to send, {c.delivered} delivered, {c.dead} dead-lettered, {c.lost} lost, "
        f"{c.duplicated} duplicated" + (f" (tries answered: {tries})" if tries else "")
    )


def totals(results: Sequence[Result], say: Say) -> bool:
    """The table of every phase and the total; True when nothing was lost or duplicated and
    no transient fault dead-lettered anything."""
    say("")
    say(
        f"{'phase':<12} {'jobs':>5} {'done':>5} {'dead':>5} {'lost':>5} {'dup rows':>8}  "
        f"{'alerts':>6} {'hook ok/dead/lost/dup':>22} {'mail ok/dead/lost/dup':>22}"
    )
    total = Counter[str]()
    for r in results:
        o = r.outcome
        row = {
            "jobs": o.cameras,
            "done": o.processed,
            "dead": o.dead_letters,
            "lost": len(o.lost) + o.dispatch_lost,
            "dup": o.duplicate_rows + o.duplicate_violations + o.duplicate_alert_rows,
            "alerts": o.alerted,
        }
        for name, c in o.channels.items():
            row |= {
                f"{name}.ok": c.delivered,
                f"{name}.dead": c.dead,
                f"{name}.lost": c.lost,
                f"{name}.dup": c.duplicated,
            }
        total.update(row)
        say(_row(r.phase.label, row))
    say(_row("total", dict(total)))
    lost = total["lost"] + total["webhook.lost"] + total["email.lost"]
    duplicated = total["dup"] + total["webhook.dup"] + total["email.dup"]
    dead = total["dead"]
    say(
        f"lost {lost}, duplicated {duplicated}, dead-lettered {dead} "
        "(every fault here is transient: each must dead-letter nothing)"
    )
    broken = [f for r in results for f in r.failures]
    if broken:
        say(f"faults that failed to inject or repair: {len(broken)}")
    return lost == 0 and duplicated == 0 and dead == 0 and not broken


def _row(label: str, row: dict[str, int]) -> str:
    def four(name: str) -> str:
        return "/".join(str(row.get(f"{name}.{k}", 0)) for k in ("ok", "dead", "lost", "dup"))

    return (
        f"{label:<12} {row['jobs']:>5} {row['done']:>5} {row['dead']:>5} {row['lost']:>5} "
        f"{row['dup']:>8}  {row['alerts']:>6} {four('webhook'):>22} {four('email'):>22}"
    )
