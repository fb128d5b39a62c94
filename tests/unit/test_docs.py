"""The reference pages in docs/ agree with the code (``python -m shared.devstack.reference``)."""

from __future__ import annotations

import re

import pytest

from shared.devstack import reference
from shared.service_layer import idempotency
from shared.setting_names import DEPRECATED
from shared.settings import Settings

SETTINGS_PAGE = "docs/reference/settings.md"


@pytest.mark.parametrize("page", sorted(reference.PAGES))
def test_generated_blocks_are_up_to_date(page: str) -> None:
    committed = (reference.ROOT / page).read_text(encoding="utf-8")
    assert committed == reference.render(page), f"{page} is stale: run {reference.COMMAND}"


def _settings_rows() -> list[str]:
    text = (reference.ROOT / SETTINGS_PAGE).read_text(encoding="utf-8")
    block = text.split("<!-- BEGIN GENERATED: settings", 1)[1].split("<!-- END GENERATED")[0]
    return [row for row in block.splitlines() if row.startswith("| `")]


def test_the_settings_page_documents_every_setting_and_no_other() -> None:
    wanted = set()
    for name, field in Settings.model_fields.items():  # the names pydantic-settings reads
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if isinstance(alias, str):
            wanted.add(alias)
        elif choices:
            wanted.add(str(choices[0]))
        else:
            wanted.add(f"CAMWATCH_{name.upper()}")
    documented = [name for row in _settings_rows() for name in re.findall(r"^\| `(\w+)`", row)]
    assert sorted(documented) == sorted(wanted)


@pytest.mark.parametrize(("old", "new"), sorted(DEPRECATED.items()))
def test_a_renamed_setting_is_listed_with_its_old_name(old: str, new: str) -> None:
    [row] = [r for r in _settings_rows() if r.startswith(f"| `{new}`")]
    assert f"`{old}`" in row
    assert "deprecated" in row


def test_a_key_builder_missing_from_the_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def forecast_key(camera_id: str) -> str:
        return f"forecast:{camera_id}"

    monkeypatch.setattr(idempotency, "forecast_key", forecast_key, raising=False)
    with pytest.raises(ValueError, match="forecast_key"):
        reference.redis_keys_table()


def test_a_stale_block_is_rewritten_and_a_missing_one_refused() -> None:
    committed = (reference.ROOT / SETTINGS_PAGE).read_text(encoding="utf-8")
    stale = re.sub(r"`CAMWATCH_REDIS_PORT`", "`CAMWATCH_REDIS_PORTS`", committed)
    assert reference.render(SETTINGS_PAGE, stale) == committed
    with pytest.raises(ValueError, match="no block"):
        reference.render(SETTINGS_PAGE, "# Settings\n")
