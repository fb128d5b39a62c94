"""A bounded async client: every request of a plan, at most ``in_flight`` at once, on 127.0.0.1.

Nothing is raised: each request ends as a :class:`Result` (a status, or the kind of error that
stopped it), and :class:`Summary` counts them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

ALLOWED = (200, 429, 503)  # 429 and 503 only with Retry-After
PROGRESS_S = 5.0


@dataclass(frozen=True)
class Result:
    """One request's end: its status (None when none came), or the error that stopped it."""

    camera_id: str
    status: int | None
    ms: float  # client side, from the request's start (after its turn came) to its end
    error: str = ""  # the exception's kind, "bad JSON", "no cache field"; "" when fine
    retry_after: str | None = None
    cache: str | None = None  # "hit" or "miss" from a 200 answer
    server_ms: float | None = None  # the answer's latency_ms.total


def _read(camera_id: str, response: httpx.Response, ms: float) -> Result:
    retry_after = response.headers.get("Retry-After")
    if response.status_code != 200:
        return Result(camera_id, response.status_code, ms, retry_after=retry_after)
    try:
        body: Any = response.json()
    except ValueError:
        return Result(camera_id, 200, ms, "bad JSON")
    cache = body.get("cache") if isinstance(body, dict) else None
    if cache not in ("hit", "miss"):
        return Result(camera_id, 200, ms, "no cache field")
    total = body.get("latency_ms", {}).get("total")
    return Result(camera_id, 200, ms, cache=cache, server_ms=total)


async def _run(
    url: str,
    cameras: Sequence[str],
    headers: dict[str, str],
    in_flight: int,
    timeout_s: float,
    say: Callable[[str], None],
) -> Summary:
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    turn = asyncio.Semaphore(in_flight)
    state = {"done": 0, "running": 0, "peak": 0}

    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=timeout_s
    ) as client:

        async def one(camera_id: str) -> Result:
            async with turn:
                state["running"] += 1
                state["peak"] = max(state["peak"], state["running"])
                start = time.perf_counter()
                try:
                    response = await client.post(f"/process/camera/{camera_id}")
                    ms = (time.perf_counter() - start) * 1000
                    return _read(camera_id, response, ms)
                except httpx.HTTPError as exc:
                    ms = (time.perf_counter() - start) * 1000
                    return Result(camera_id, None, ms, type(exc).__name__)
                finally:
                    state["running"] -= 1
                    state["done"] += 1

        async def progress() -> None:
            while True:
                await asyncio.sleep(PROGRESS_S)
                say(
                    f"  ... {time.perf_counter() - began:5.1f} s: {state['done']}/{len(cameras)} "
                    f"done, {state['running']} in flight"
                )

        began = time.perf_counter()
        ticker = asyncio.create_task(progress())
        try:
            results = await asyncio.gather(*(one(c) for c in cameras))
        finally:
            ticker.cancel()
        return Summary(list(results), time.perf_counter() - began, state["peak"])


def run_plan(
    url: str,
    cameras: Sequence[str],
    headers: dict[str, str],
    in_flight: int,
    timeout_s: float = 120.0,
    say: Callable[[str], None] = print,
) -> Summary:
    """POST ``/process/camera/{id}`` for each camera of the plan; what came of them."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the load stays on 127.0.0.1, not {url}")
    return asyncio.run(_run(url, cameras, headers, in_flight, timeout_s, say))


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), NaN when there are none."""
    return float(np.percentile(np.array(values), q)) if values else float("nan")


@dataclass(frozen=True)
class Summary:
    """What a run's results add up to, and what breaks its rules."""

    results: list[Result]
    seconds: float
    peak_in_flight: int = 0  # requests sent and not yet answered, at most

    @property
    def statuses(self) -> Counter[str]:
        return Counter(str(r.status) if r.status else "none" for r in self.results)

    @property
    def errors(self) -> Counter[str]:
        return Counter(r.error for r in self.results if r.error)

    @property
    def cache(self) -> Counter[str]:
        return Counter(r.cache for r in self.results if r.cache)

    def refused_without_retry_after(self) -> int:
        return sum(1 for r in self.results if r.status in (429, 503) and not r.retry_after)

    def problems(self) -> list[str]:
        """Statuses outside 200/429/503, refusals without Retry-After, errors of any kind."""
        found = []
        other = {s: n for s, n in self.statuses.items() if s not in {str(a) for a in ALLOWED}}
        if other:
            found.append(f"statuses outside {ALLOWED}: {other}")
        if missing := self.refused_without_retry_after():
            found.append(f"{missing} answers 429/503 without Retry-After")
        if self.errors:
            found.append(f"errors: {dict(self.errors)}")
        return found

    def lines(self) -> list[str]:
        """The printout: counts by status, errors by kind, latency percentiles."""
        ok = [r.ms for r in self.results if r.status == 200]
        rate = len(self.results) / self.seconds if self.seconds else 0.0
        out = [
            f"  {len(self.results)} requests in {self.seconds:.1f} s ({rate:.1f}/s), at most "
            f"{self.peak_in_flight} in flight at once",
            "  by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
            "  errors by kind: "
            + (", ".join(f"{k}: {n}" for k, n in sorted(self.errors.items())) or "none"),
        ]
        refused = [r for r in self.results if r.status in (429, 503)]
        if refused:
            waits = Counter(r.retry_after for r in refused)
            out.append(
                "  Retry-After on 429/503: "
                + ", ".join(f"{w!r} x{n}" for w, n in sorted(waits.items(), key=str))
            )
        out.append(
            f"  client latency of the 200s (ms): p50 {pct(ok, 50):.0f}, p95 {pct(ok, 95):.0f}, "
            f"p99 {pct(ok, 99):.0f}, max {max(ok, default=float('nan')):.0f}"
        )
        for kind in ("hit", "miss"):
            server = [r.server_ms for r in self.results if r.cache == kind and r.server_ms]
            client = [r.ms for r in self.results if r.cache == kind]
            if client:
                out.append(
                    f"  {kind:<4} x{len(client):<5} client p50/p95/p99 {pct(client, 50):.0f}/"
                    f"{pct(client, 95):.0f}/{pct(client, 99):.0f} ms; in the server "
                    f"{pct(server, 50):.1f}/{pct(server, 95):.1f}/{pct(server, 99):.1f} ms"
                )
        return out
