"""Reference tables generated from the code: ``python -m shared.devstack.reference``.

The pages in ``docs/reference/`` are written by hand, except the blocks between
``<!-- BEGIN GENERATED: <name> ... -->`` and ``<!-- END GENERATED: <name> -->``, which are
rendered here: the settings (from ``Settings``' fields), the metrics, the Redis keys (from the
table in ``shared.service_layer.idempotency``, checked against its key builders), the error
kinds with their HTTP status, and the Pub/Sub routes. The module rewrites stale blocks;
``--check`` only reports them (exit 1). ``tests/unit/test_docs.py`` fails while any is stale.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from prometheus_client.metrics import Histogram, MetricWrapperBase
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from shared import errors, metrics
from shared.entrypoints.edge import STATUS
from shared.messages.topology import ROUTES
from shared.service_layer import idempotency
from shared.setting_names import DEPRECATED
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m shared.devstack.reference"
_BOUNDS = {"≥": "ge", ">": "gt", "≤": "le", "<": "lt"}


def _cell(text: str) -> str:
    """Text fit for one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def variables(name: str, field: FieldInfo) -> tuple[str, list[str]]:
    """The environment variable a setting is read from, and its deprecated old names."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias, []
    if isinstance(alias, AliasChoices):
        names = [c for c in alias.choices if isinstance(c, str)]
        return names[0], [
            old for old, new in DEPRECATED.items() if new == names[0] and old in names
        ]
    return f"{Settings.model_config.get('env_prefix', '')}{name.upper()}", []


def _groups() -> Iterator[tuple[str, list[str]]]:
    """The fields in class order, grouped under the ``# Comment`` lines of ``Settings``, then
    of the parts it inherits (``ForecastSettings``)."""
    parts = [c for c in Settings.__mro__ if c.__module__.startswith("shared.")]
    for part in parts:
        group, names = "General", list[str]()
        for line in inspect.getsource(part).splitlines():
            if comment := re.fullmatch(r" {4}# (.+)", line):
                if names:
                    yield group, names
                group, names = comment[1], []
            elif (field := re.match(r" {4}(\w+): ", line)) and field[1] in part.__annotations__:
                names.append(field[1])
        if names:
            yield group, names


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        return f"`{value.relative_to(ROOT) if value.is_relative_to(ROOT) else value}`"
    return f"`{value}`" if value != "" else "empty"


def _values(field: FieldInfo) -> str:
    """The accepted values: the choices, or the type with its bounds or pattern."""
    kinds = [a for a in get_args(field.annotation) if a is not NoneType]
    kind: Any = kinds[0] if get_origin(field.annotation) in (Union, UnionType) else field.annotation
    if get_origin(kind) is Literal:
        return ", ".join(f"`{choice}`" for choice in get_args(kind))
    words = {bool: "`true` or `false`", Path: "path", SecretStr: "secret", str: "text"}
    parts = [words.get(kind) or str(getattr(kind, "__name__", kind))]
    for rule in field.metadata:
        if isinstance(rule, Ge | Gt | Le | Lt):
            op, bound = next((op, v) for op, v in _BOUNDS.items() if hasattr(rule, v))
            parts.append(f"{op} {getattr(rule, bound)}")
        elif pattern := getattr(rule, "pattern", None):
            parts.append(f"matching `{pattern}`")
    return ", ".join(parts)


def settings_table() -> str:
    """One table per group of ``Settings``: variable, default, accepted values, meaning."""
    parts = []
    for group, names in _groups():
        rows = []
        for name in names:
            field = Settings.model_fields[name]
            env, old = variables(name, field)
            also = "".join(f" (deprecated alias: `{o}`)" for o in old)
            rows.append(
                (f"`{env}`{also}", _default(field.default), _values(field), field.description or "")
            )
        heading = group[0].upper() + group[1:]
        parts.append(
            f"### {heading}\n\n" + _table(("variable", "default", "values", "meaning"), rows)
        )
    return "\n\n".join(parts)


def metrics_table() -> str:
    """Every metric of ``shared.metrics``, as ``GET /metrics`` exposes it."""
    rows, buckets = [], []
    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        [family] = collector.describe()
        shown = f"{family.name}_total" if family.type == "counter" else family.name
        labels = ", ".join(f"`{label}`" for label in collector._labelnames) or "none"
        rows.append((f"`{shown}`", family.type, labels, family.documentation))
        if isinstance(collector, Histogram):
            bounds = ", ".join(f"{b:g}" for b in collector._upper_bounds[:-1])
            buckets.append(f"- `{family.name}`: {bounds}, +Inf")
    table = _table(("metric", "type", "labels", "meaning"), rows)
    return table + "\n\nHistogram buckets (upper bounds):\n\n" + "\n".join(buckets)


def _key_pattern(key: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", key)


def redis_keys_table() -> str:
    """The key table of ``idempotency``'s docstring, each row with the function that builds it.

    Raises:
        ValueError: a key builder is missing from the table, or the table names a key that no
            builder makes.
    """
    doc = inspect.getdoc(idempotency) or ""
    block = doc.split("\n====")[2].split("\n", 1)[1]  # the rows between the 2nd and 3rd rulers
    builders = {
        _key_pattern(fn(*["{}"] * len(inspect.signature(fn).parameters))): name
        for name, fn in vars(idempotency).items()
        if name.endswith("_key") and inspect.isfunction(fn)
    }
    rows = []
    for line in block.splitlines():
        key, what, ttl = re.split(r"\s{2,}", line.strip().replace("``", "`"))
        builder = builders.pop(_key_pattern(key.strip("`")), None)
        if builder is None:
            raise ValueError(f"{key}: no key builder in shared/service_layer/idempotency.py")
        rows.append((key, what, ttl, f"`{builder}`"))
    if builders:
        raise ValueError(
            f"key builders missing from idempotency's table: {sorted(builders.values())}"
        )
    return _table(("key", "what", "lifetime", "built by"), rows)


def errors_table() -> str:
    """Every error kind, its class, its HTTP status (``edge.STATUS``; unlisted: 500)."""
    rows = []
    for cls in vars(errors).values():
        if inspect.isclass(cls) and issubclass(cls, errors.CamwatchError):
            status = next((code for kind, code in STATUS if issubclass(cls, kind)), 500)
            meaning = (inspect.getdoc(cls) or "").split("\n\n")[0]
            rows.append((f"`{cls.kind}`", f"`{cls.__name__}`", str(status), meaning))
    return _table(("kind", "error", "HTTP status", "meaning"), rows)


def routes_table() -> str:
    """The topics, their push subscriptions and failure handling (``topology.json``)."""
    rows = [
        (
            f"`{r.topic}`",
            f"`{r.subscription}`",
            f"`{r.function}`",
            f"{r.ack_deadline_s} s",
            f"{r.min_backoff_s} s to {r.max_backoff_s} s",
            str(r.max_delivery_attempts),
            f"`{r.dead_letter_topic}`",
        )
        for r in ROUTES
    ]
    header = ("topic", "subscription", "pushes to", "ack deadline", "retry backoff")
    return _table((*header, "attempts", "then"), rows)


PAGES: dict[str, dict[str, Callable[[], str]]] = {
    "docs/reference/settings.md": {"settings": settings_table},
    "docs/reference/metrics.md": {"metrics": metrics_table},
    "docs/reference/redis-keys.md": {"redis-keys": redis_keys_table},
    "docs/reference/http-api.md": {"errors": errors_table},
    "docs/reference/pubsub-messages.md": {"routes": routes_table},
}


def render(page: str, text: str | None = None) -> str:
    """``page`` (a path from the repository root) with its generated blocks brought up to date.

    Raises:
        ValueError: the page lacks the markers of one of its blocks.
    """
    text = (ROOT / page).read_text(encoding="utf-8") if text is None else text
    for name, make in PAGES[page].items():
        block = re.compile(
            rf"(<!-- BEGIN GENERATED: {re.escape(name)}\b[^\n]*-->\n).*?(<!-- END GENERATED: "
            rf"{re.escape(name)} -->)",
            re.DOTALL,
        )
        found = block.search(text)
        if found is None:
            raise ValueError(f"{page}: no block <!-- BEGIN GENERATED: {name} ... -->")
        text = f"{text[: found.end(1)]}\n{make()}\n\n{text[found.start(2) :]}"
    return text


def stale() -> list[str]:
    """The pages whose generated blocks differ from the code."""
    return [p for p in PAGES if (ROOT / p).read_text(encoding="utf-8") != render(p)]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the stale pages (or, with ``--check``, only list them); 1 if any was stale."""
    parser = argparse.ArgumentParser(prog=COMMAND, description="Rewrite docs/reference/.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    pages = stale()
    for page in pages:
        if not args.check:
            (ROOT / page).write_text(render(page), encoding="utf-8")
        print(f"{'stale' if args.check else 'rewrote'}: {page}")
    return 1 if pages and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
