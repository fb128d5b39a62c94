"""The local stack's API key: created at each start, its hash given to the functions
(``CAMWATCH_API_KEYS``), the key itself to the people and tests that call them
(``CAMWATCH_DEMO_API_KEY`` in ``.stack/env``; docs/auth.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from shared.domain.callers import SCOPES, key_entry, new_key

if TYPE_CHECKING:
    from shared.devstack.stack import LocalStack

DEMO_CALLER = "local-dev"
DEMO_PER_MINUTE = 100_000  # the stack's own callers (tests, benches) are not what is limited
KEY_VARIABLE = "CAMWATCH_DEMO_API_KEY"
# A second key with the predictions scope only: what a 403 looks like (make up prints it).
NARROW_CALLER, NARROW_VARIABLE = "local-forecasts-only", "CAMWATCH_DEMO_FORECASTS_KEY"


def issue_api_key(local: LocalStack) -> str:
    """Fresh keys for this stack (one with every scope, one for forecasts only); return the
    first."""
    key, narrow = new_key(), new_key()
    entries = [
        key_entry(DEMO_CALLER, key, SCOPES, DEMO_PER_MINUTE),
        key_entry(NARROW_CALLER, narrow, ["predictions"], None),
    ]
    local.env |= {
        "CAMWATCH_API_KEYS": json.dumps({"keys": entries}),
        KEY_VARIABLE: key,
        NARROW_VARIABLE: narrow,
    }
    return key


def auth_headers(env: dict[str, str]) -> dict[str, str]:
    """The header that authenticates a request to the stack's functions."""
    return {"X-API-Key": env[KEY_VARIABLE]}
