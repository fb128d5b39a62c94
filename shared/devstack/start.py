"""Start the whole local stack in one call (``make run``, ``make up``, the tests, the benches,
``make chaos`` and ``make load``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shared.devstack.credentials import issue_api_key
from shared.devstack.procs import Stack
from shared.devstack.stack import LocalStack


def start_all(
    log_dir: Path,
    function: bool = True,
    events: bool = False,
    predictions: bool = False,
    inference: bool = False,
    settings: dict[str, str] | None = None,
    bigquery_dir: Path | None = None,
    on_ready: Callable[[str, float], None] | None = None,
    demo_subscribers: bool = False,
    redis_dir: Path | None = None,
) -> LocalStack:
    """Start the whole stack; on any failure stop what was started and re-raise.

    ``settings`` are extra ``CAMWATCH_*`` variables for every function (demo values);
    ``bigquery_dir`` keeps BigQuery's data on disk there (None: in memory, as the tests have it);
    ``redis_dir`` keeps Redis's keys across a restart there (None: none kept).
    """
    local = LocalStack(Stack(log_dir, on_ready=on_ready), env=dict(settings or {}))
    issue_api_key(local)
    try:
        local.start_redis(redis_dir)
        local.start_bigquery(bigquery_dir)
        local.start_storage()
        local.start_cameras()
        local.start_alert_sinks()
        if demo_subscribers:
            from shared.devstack.demo_alerts import subscribe_demo

            subscribe_demo(local)
        local.start_pubsub()
        if inference:
            local.start_inference()
        if events:
            local.start_event_functions()
        if function:
            local.start_function()
        if predictions:
            local.start_function("predictions")
    except BaseException:
        local.stop()
        raise
    return local
