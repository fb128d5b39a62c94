"""Whether a fault was felt: the functions' own log lines about failed and repeated tries,
counted in a time window (each function logs JSON to ``<logs>/<function>.log``)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

# What each line means for a message's delivery (shared/entrypoints/pubsub.py).
KINDS = {
    "dependency unavailable; trying again within this delivery": "waited out",
    "message failed; Pub/Sub will redeliver it": "redelivered",
    "message rejected and dead-lettered": "rejected",
    "inference try failed; trying again": "retried by the detector",
}


def felt(logs: Path, since: datetime, until: datetime) -> Counter[str]:
    """``{"waited out": n, "redelivered": m, ...}`` over every function's log in the window."""
    found: Counter[str] = Counter()
    for path in logs.glob("*.log"):
        with path.open(errors="replace") as lines:
            for line in lines:
                if not line.startswith("{"):
                    continue
                try:
                    record = json.loads(line)
                    kind = KINDS.get(record.get("message", ""))
                    when = datetime.fromisoformat(record["time"]) if kind else None
                except (ValueError, KeyError, TypeError):
                    continue
                if kind and when and since <= when <= until:
                    found[kind] += 1
    return found
