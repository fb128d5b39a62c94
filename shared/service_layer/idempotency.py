"""Idempotent rows: deterministic ids and Redis-guarded inserts (the emulator ignores insertIds)."""

from __future__ import annotations

import hashlib
from typing import Any

from shared.adapters.cache import Cache
from shared.adapters.warehouse import Warehouse

CLAIM_TTL_S = 60  # a writer that died mid-insert frees its claim after this
WRITTEN_TTL_S = 24 * 3600  # how long a written row id is remembered


def row_id(*parts: str) -> str:
    """Deterministic 32-hex id from its parts (used as the BigQuery insertId too)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def write_once(
    cache: Cache, warehouse: Warehouse, table: str, rid: str, row: dict[str, Any]
) -> bool:
    """Insert unless this row id was already written; True if this call wrote it.

    A Redis claim (SET NX, 60 s) guards the insert; it becomes a 24 h "written" mark on
    success and is released on failure, so a retry writes the row and nothing is lost.
    """
    key = f"vision:write:{table}:{rid}"
    if not cache.claim(key, CLAIM_TTL_S):
        return False
    try:
        warehouse.insert(table, [row], [rid])
    except BaseException:
        cache.release(key)
        raise
    cache.confirm(key, WRITTEN_TTL_S)
    return True
