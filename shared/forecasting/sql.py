"""The SQL files of ``schemas/bigquery/ml/``, rendered with checked values.

Each file is GoogleSQL with ``${name}`` placeholders (:class:`string.Template`). ``CREATE MODEL``
takes no query parameters, so values are written into the text: every value is checked here
against what its name allows (identifiers, numbers, timestamps, camera ids), never quoted blindly.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from datetime import datetime

from shared.messages.schemas import SCHEMAS

ML_QUERIES = SCHEMAS / "bigquery" / "ml"
_IDENT = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")  # project, dataset, metric, model, run ids
_CAMERA = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")  # the registry's CAMERA_ID
_REGION = re.compile(r"^[A-Z]{2,6}$")
# Model names and versions written as string literals: no quotes, backslashes or newlines.
_LABEL = re.compile(r"^[A-Za-z0-9_.:@+/= -]{1,256}$")


class SqlValueError(ValueError):
    """A value that may not be written into SQL."""


def ident(value: str) -> str:
    """A project, dataset, table, model, metric or run id."""
    if not _IDENT.match(value):
        raise SqlValueError(f"not an identifier: {value!r}")
    return value


def number(value: float) -> str:
    """A finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise SqlValueError(f"not a number: {value!r}")
    return repr(value)


def timestamp(value: str) -> str:
    """An ISO 8601 timestamp, as a GoogleSQL ``TIMESTAMP`` literal."""
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SqlValueError(f"not a timestamp: {value!r}") from exc
    return f"TIMESTAMP '{value}'"


def cameras(ids: Iterable[str]) -> str:
    """Camera ids as a quoted, comma-separated list for ``IN (...)`` (at least one)."""
    items = list(ids)
    bad = [i for i in items if not _CAMERA.match(i)]
    if bad or not items:
        raise SqlValueError(f"bad camera ids: {bad or 'none given'}")
    return ", ".join(f"'{i}'" for i in items)


def region(value: str) -> str:
    """A holiday region code (``US``, ``GB``, ``GLOBAL``)."""
    if not _REGION.match(value):
        raise SqlValueError(f"not a holiday region: {value!r}")
    return value


def label(value: str) -> str:
    """A model name or version, for inside a quoted string literal (``'bqml.arima_plus.m'``)."""
    if not _LABEL.match(value):
        raise SqlValueError(f"not a label: {value!r}")
    return value


def render(name: str, **values: str) -> str:
    """The file ``schemas/bigquery/ml/{name}.sql`` with ``values`` (already checked) filled in."""
    text = (ML_QUERIES / f"{name}.sql").read_text()
    return string.Template(text).substitute(values).strip()


def placeholders(name: str) -> set[str]:
    """The placeholder names a file uses."""
    text = (ML_QUERIES / f"{name}.sql").read_text()
    return {
        m.group("named") or m.group("braced")
        for m in string.Template.pattern.finditer(text)
        if m.group("named") or m.group("braced")
    }
