"""Message payloads: JSON Schemas in ``schemas/``, checked on publish and on receipt.

A bare name is a Pub/Sub payload (``schemas/pubsub/<name>.schema.json``); a name with a folder,
e.g. ``webhooks/violation_alert``, is that file under ``schemas/``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from shared.errors import MessageRejectedError

# The schemas root, found once: messages, webhooks, BigQuery tables and the Pub/Sub topology.
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    path = name if "/" in name else f"pubsub/{name}"
    schema = json.loads((SCHEMAS / f"{path}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def validate(name: str, payload: Any) -> dict[str, Any]:
    """Check ``payload`` against its schema (see the module docstring for ``name``).

    Raises:
        MessageRejectedError: with the first problem, e.g. ``camera_job: 'camera_id' is required``.
    """
    errors = sorted(_validator(name).iter_errors(payload), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path)
        raise MessageRejectedError(f"{name}{'.' + where if where else ''}: {errors[0].message}")
    assert isinstance(payload, dict)
    return payload
