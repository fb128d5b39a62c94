"""The architecture holds, and its checks can fail.

* ``lint-imports`` keeps the contracts of ``.importlinter`` on the tree, and breaks them on a
  copy of the tree where the domain imports an adapter.
* Only the adapters that the contracts forbid import BigQuery or Pub/Sub (import-linter can
  forbid ``google`` but not ``google.cloud.bigquery``, so the contracts forbid those adapters).
* (``tests/model/test_lean_inference.py`` serves the inference function with the real model and
  checks what it loads.)
"""

from __future__ import annotations

import ast
import configparser
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import clean_env

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = ROOT / ".importlinter"


def _contracts() -> dict[str, configparser.SectionProxy]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    prefix = "importlinter:contract:"
    return {s.removeprefix(prefix): parser[s] for s in parser.sections() if s.startswith(prefix)}


def _lines(value: str) -> set[str]:
    return {line.split("#", 1)[0].strip() for line in value.splitlines()} - {""}


def _lint_imports(cwd: Path) -> tuple[int, str]:
    run = subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # rich wraps long contract names: compare with the whitespace squeezed.
    return run.returncode, " ".join((run.stdout + run.stderr).split())


def test_the_tree_keeps_every_contract() -> None:
    code, out = _lint_imports(ROOT)
    assert code == 0, out
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in out, out


def test_a_domain_module_importing_an_adapter_breaks_the_contracts(tmp_path: Path) -> None:
    skip = shutil.ignore_patterns("__pycache__", "assets")  # no Python there: faster copy
    for package in ("shared", "functions"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=skip)
    shutil.copy(CONFIG, tmp_path / CONFIG.name)
    zones = tmp_path / "shared" / "domain" / "zones.py"
    zones.write_text(zones.read_text() + "from shared.adapters import cache  # noqa\n")

    code, out = _lint_imports(tmp_path)

    assert code == 1, out
    contracts = _contracts()
    for broken in ("layers", "domain-is-pure"):
        assert f"{' '.join(contracts[broken]['name'].split())} BROKEN" in out, out
    assert "shared.domain.zones -> shared.adapters.cache" in out, out
    assert f"{len(contracts) - 2} kept, 2 broken" in out, out


def _google_imports(path: Path) -> set[str]:
    """The ``google.*`` modules a file imports (at any depth: lazy imports count)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {name for name in names if name.startswith("google.")}


def test_bigquery_and_pubsub_live_only_in_adapters_the_contracts_forbid() -> None:
    clients = ("google.cloud.bigquery", "google.cloud.pubsub")  # pubsub, pubsub_v1
    importers = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in ("shared", "functions")
        for path in (ROOT / package).rglob("*.py")
        if "devstack" not in path.parts
        and any(name.startswith(clients) for name in _google_imports(path))
    }
    assert "shared.adapters.warehouse" in importers
    assert "shared.adapters.bus" in importers
    contracts = _contracts()
    for name in ("detection-without-stores", "lean-inference-image"):
        forbidden = _lines(contracts[name]["forbidden_modules"])
        assert importers <= forbidden, (name, importers - forbidden)
