"""What a run's sweeps found, by rule: each violation's lifecycle and the alerts sent.

Read back from BigQuery as a user would: the ``violations`` rows (one per event: ``open``,
``update``, ``close``) of the run's sweeps, grouped by ``violation_id``, checked against the
``violations_current`` view when the warehouse has it, and the ``alerts`` rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.adapters.warehouse import BigQueryWarehouse
from shared.errors import WarehouseRejectedError

Print = Callable[[str], None]
RULES = (  # the order they are shown in
    "bus_lane",
    "bike_lane",
    "no_standing",
    "double_parking",
    "block_the_box",
    "pedestrian_in_roadway",
    "congestion",
)
SHOWN_PER_RULE = 4  # violations listed under each rule; the rest are counted


@dataclass
class Lifecycle:
    """One violation as its rows tell it (what ``violations_current`` has per violation)."""

    violation_id: str
    type: str
    zone: str
    camera_id: str
    class_name: str
    events: int = 0
    opened_in: int | None = None  # sweep number (1 = the run's first)
    closed_in: int | None = None
    dwell_s: float | None = None  # the latest event's
    alerted: bool = False
    seqs: set[int] = field(default_factory=set)

    @property
    def state(self) -> str:
        """``closed`` once a close row is in, else ``open``."""
        return "closed" if self.closed_in is not None else "open"

    def add(self, row: dict[str, Any], sweep: int) -> None:
        """Fold one row in (rows from before lifecycles have no event: an open)."""
        event, seq = row.get("event") or "open", int(row.get("event_seq") or 0)
        self.events += 1
        self.alerted |= bool(row.get("alerted"))
        if event == "open":
            self.opened_in = sweep
        elif event == "close":
            self.closed_in = sweep
        if row.get("dwell_s") is not None and (not self.seqs or seq >= max(self.seqs)):
            self.dwell_s = float(row["dwell_s"])
        self.seqs.add(seq)

    def line(self) -> str:
        """A line about it: where, what, when it opened and closed, how long."""
        where = f"{self.camera_id:<34} {self.zone[:28]:<28} {self.class_name:<7}"
        opened = f"opened sweep {self.opened_in}" if self.opened_in else "opened before"
        closed = f", closed sweep {self.closed_in}" if self.closed_in else ", still open"
        dwell = f", {self.dwell_s:.1f} s" if self.dwell_s is not None else ""
        events = f"{self.events} event{'s' if self.events > 1 else ''}"
        return f"    {where} {opened}{closed}{dwell} ({events})"


def lifecycles(warehouse: BigQueryWarehouse, sweep_ids: list[str]) -> list[Lifecycle]:
    """The violations of these sweeps, grouped from their rows (sweep numbers from 1)."""
    names = {f"s{i}": s for i, s in enumerate(sweep_ids)}
    rows = warehouse.query(
        "SELECT v.violation_id, v.type, v.zone, v.camera_id, v.class_name, v.event, "
        "v.event_seq, v.dwell_s, v.alerted, o.sweep_id "
        f"FROM `{warehouse.table_id('violations')}` v JOIN "
        f"`{warehouse.table_id('observations')}` o ON v.observation_id = o.observation_id "
        f"WHERE o.sweep_id IN ({', '.join('@' + n for n in names)}) "
        "ORDER BY v.event_time, v.event_seq",
        names,
    )
    number = {s: i + 1 for i, s in enumerate(sweep_ids)}
    found: dict[str, Lifecycle] = {}
    for row in rows:
        vid = row["violation_id"]
        item = found.setdefault(
            vid, Lifecycle(vid, row["type"], row["zone"], row["camera_id"], row["class_name"])
        )
        item.add(row, number[row["sweep_id"]])
    return list(found.values())


def current_states(warehouse: BigQueryWarehouse) -> dict[str, str] | None:
    """``violations_current``'s state per violation; None when the view is not there."""
    try:
        rows = warehouse.query(
            f"SELECT violation_id, state FROM `{warehouse.table_id('violations_current')}`"
        )
    except WarehouseRejectedError:
        return None
    return {str(r["violation_id"]): str(r["state"]) for r in rows}


def report(warehouse: BigQueryWarehouse, sweep_ids: list[str], say: Print) -> list[Lifecycle]:
    """Print the run's violations by rule, then the alerts sent; return the violations."""
    found = lifecycles(warehouse, sweep_ids)
    opened = [v for v in found if v.opened_in]
    closed = [v for v in found if v.closed_in]
    say("")
    say(
        f"violations of the {len(sweep_ids)} sweeps, by rule: {len(opened)} opened, "
        f"{len(closed)} closed, {len(found) - len(closed)} still open "
        f"({sum(v.events for v in found)} rows: open, update and close events)"
    )
    by_rule: defaultdict[str, list[Lifecycle]] = defaultdict(list)
    for item in found:
        by_rule[item.type].append(item)
    for rule in sorted(set(RULES) | set(by_rule), key=_rule_order):
        items = by_rule.get(rule, [])
        shut = sum(v.closed_in is not None for v in items)
        dwells = [v.dwell_s for v in items if v.dwell_s is not None]
        say(
            f"  {rule:<22} {sum(v.opened_in is not None for v in items):>3} opened, "
            f"{shut:>3} closed, {len(items) - shut:>3} open"
            + (f"; longest {max(dwells):.1f} s" if dwells else "")
            + ("" if items else "   (none: this rule did not fire)")
        )
        # Closed ones first (they show a whole lifecycle), then the longest.
        items.sort(key=lambda v: (v.closed_in is None, -(v.dwell_s or 0.0), v.violation_id))
        for item in items[:SHOWN_PER_RULE]:
            say(item.line())
        if len(items) > SHOWN_PER_RULE:
            say(f"    ... and {len(items) - SHOWN_PER_RULE} more")
    states = current_states(warehouse)
    if states is None:
        say("  (no violations_current view in this warehouse: states grouped from the rows)")
    else:
        mine = {v.violation_id: v.state for v in found}
        agree = all(states.get(k) == s for k, s in mine.items())
        view = Counter(states.get(k) or "missing" for k in mine)
        say(
            "  the violations_current view: "
            + ", ".join(f"{n} {state}" for state, n in sorted(view.items(), reverse=True))
            + (" (agrees with the rows)" if agree else " (DISAGREES with the rows)")
        )
    _alerts(warehouse, sweep_ids, found, say)
    return found


def _alerts(
    warehouse: BigQueryWarehouse, sweep_ids: list[str], found: list[Lifecycle], say: Print
) -> None:
    names = {f"s{i}": s for i, s in enumerate(sweep_ids)}
    rows = warehouse.query(
        "SELECT violation_id, severity FROM "
        f"`{warehouse.table_id('alerts')}` WHERE sweep_id IN "
        f"({', '.join('@' + n for n in names)})",
        names,
    )
    rule = {v.violation_id: v.type for v in found}
    per_rule = Counter(rule.get(str(r["violation_id"]), "?") for r in rows)
    alerted = sum(v.alerted for v in found)
    say(
        f"alerts sent:  {len(rows)} for {alerted} violations alerted on opening "
        f"({dict(sorted(per_rule.items(), key=lambda kv: _rule_order(kv[0])))}); "
        "updates and closes alert no one"
    )


def _rule_order(rule: str) -> tuple[int, str]:
    return (RULES.index(rule) if rule in RULES else len(RULES), rule)
