"""The environment variables behind the settings: renamed ones, and which one an error names.

Beside ``shared.settings`` (the settings object itself), so that module holds only the
settings and their checks.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pydantic import AliasChoices

# Renamed settings: the old name still works, with a warning (once per process).
DEPRECATED = {"CAMWATCH_MAX_INSTANCES": "CAMWATCH_MAX_IMAGES_PER_REQUEST"}
_warned: set[str] = set()
log = logging.getLogger("shared.settings")


def warn_deprecated() -> None:
    """Warn once per process for each renamed variable still set."""
    for old, new in DEPRECATED.items():
        if old in os.environ and old not in _warned:
            _warned.add(old)
            log.warning(
                f"{old} is deprecated: use {new}", extra={"deprecated": old, "replacement": new}
            )


def variable_of(fields: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """The environment variable behind an error's location among ``fields`` (a settings
    model's ``model_fields``): the one set, for a renamed one."""
    name = str(loc[0]) if loc else ""
    for field_name, field in fields.items():
        alias = field.validation_alias
        choices = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else [alias]
        if name == field_name or name in choices:
            names = [c for c in choices if isinstance(c, str) and c.isupper()]
            names = names or [f"CAMWATCH_{field_name.upper()}"]
            name = next((n for n in names if n in os.environ), names[0])
            break
    return "_".join([name, *(str(p).upper() for p in loc[1:])])
