"""Camera registries of many snapshot cameras for benches and fault runs: the demo's snapshot
cameras (their frames and zones) repeated under ids of their own, so caches, tracks and
violation books start cold for each id."""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.settings import ASSETS


def snapshot_registry(groups: dict[str, int], path: Path, prefix: str) -> dict[str, list[str]]:
    """Write a registry with ``groups[name]`` cameras per group to ``path``; their ids by group
    (``{prefix}-{group}-0000`` ...)."""
    demo = yaml.safe_load((ASSETS / "cameras.yaml").read_text())["cameras"]
    snapshots = [c for c in demo if "/snapshot/" in c["source"]]
    ids = {g: [f"{prefix}-{g}-{i:04d}" for i in range(k)] for g, k in groups.items()}
    cameras = [
        {**snapshots[i % len(snapshots)], "id": cid, "name": f"{prefix} camera {cid}"}
        for group in ids.values()
        for i, cid in enumerate(group)
    ]
    path.write_text(yaml.safe_dump({"cameras": cameras}))
    return ids
