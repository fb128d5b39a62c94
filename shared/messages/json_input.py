"""The one JSON loader for input from outside: HTTP bodies and Pub/Sub messages.

Written here rather than taken from a library because the standard ``json`` module is what the
rest of camwatch uses and it needs only a thin guard for hostile input, which no well-kept
library offers as an option (orjson, for one, has a fixed recursion limit of 1,024):

* a nesting limit, ``CAMWATCH_MAX_JSON_DEPTH``: ``json`` has none of its own, and a document
  nested about 1,000 deep raises ``RecursionError``, which is not a ``ValueError``;
* strict RFC 8259: UTF-8 only, and no ``NaN``, ``Infinity`` or number too large for a float,
  which JSON Schema's ``minimum`` and ``maximum`` would let through;
* every failure (a syntax error, bytes that are not UTF-8, Python's 4,300-digit limit on
  integers) as one typed error, :class:`InvalidJsonError`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from shared.errors import InvalidJsonError


def load_json(data: bytes | str, max_depth: int) -> Any:
    """Parse ``data`` as strict JSON nested at most ``max_depth`` deep (``{}`` is depth 1).

    Raises:
        InvalidJsonError: not UTF-8, not JSON, a non-finite number, or nested too deep.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:
        raise InvalidJsonError(f"JSON nested more than {max_depth} deep") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the integer digit limit
        raise InvalidJsonError(f"not JSON: {exc}") from exc
    if depth_of(value, max_depth) > max_depth:
        raise InvalidJsonError(f"JSON nested more than {max_depth} deep")
    return value


def depth_of(value: Any, limit: int) -> int:
    """How deep objects and arrays nest in ``value`` (a scalar is 0), counted level by level
    without recursion; it stops counting once past ``limit``."""
    depth, level = 0, [value]
    while level := [v for v in level if isinstance(v, dict | list)]:
        depth += 1
        if depth > limit:
            break
        level = [child for v in level for child in (v.values() if isinstance(v, dict) else v)]
    return depth


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number
