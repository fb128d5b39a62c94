"""Start, wait for and stop child processes by process group."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _own_group_and_die_with_parent() -> None:
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class StartError(RuntimeError):
    """A process did not become ready; the message ends with its log tail."""


@dataclass(frozen=True)
class _Spec:
    argv: tuple[str, ...]
    ready: Callable[[], bool]
    env: dict[str, str] | None
    timeout_s: float
    cwd: Path | None


@dataclass
class Stack:
    """The processes of one local stack; a context manager that always stops them."""

    log_dir: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    specs: dict[str, _Spec] = field(default_factory=dict)  # how each was started (restart)
    # Told each process's name and start-up seconds once it is ready (progress for a person).
    on_ready: Callable[[str, float], None] | None = None

    def start(
        self,
        name: str,
        argv: Sequence[str],
        ready: Callable[[], bool],
        env: dict[str, str] | None = None,
        timeout_s: float = 30.0,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own process group and wait until ``ready()`` is true."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        again = name in self.specs  # a restart appends to the first run's log
        self.specs[name] = _Spec(tuple(argv), ready, env, timeout_s, cwd)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab" if again else "wb") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                preexec_fn=_own_group_and_die_with_parent,
            )
        self.procs.append((name, proc))
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StartError(f"{name} exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                if ready():
                    if self.on_ready:
                        self.on_ready(name, time.monotonic() - started)
                    return proc
            except Exception:
                pass
            time.sleep(0.1)
        raise StartError(f"{name} not ready after {timeout_s:.0f} s:\n{_tail(log_path)}")

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """The running process started as ``name``."""
        return next(proc for n, proc in reversed(self.procs) if n == name)

    def send(self, name: str, sig: signal.Signals) -> None:
        """Send ``sig`` to ``name``'s process group (SIGSTOP pauses it, SIGCONT resumes)."""
        _signal_group(self.process(name), sig)

    def halt(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop ``name``'s process group with ``sig`` (KILL after 5 s) and wait for it."""
        proc = self.process(name)
        _signal_group(proc, sig)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=5)
        self.procs.remove((name, proc))

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        """Start ``name`` again as it was first started (same argv, port and environment)."""
        spec = self.specs[name]
        return self.start(name, spec.argv, spec.ready, spec.env, spec.timeout_s, spec.cwd)

    def stop(self) -> None:
        """TERM every process group (newest first), then KILL what is left after 5 s."""
        for _, proc in reversed(self.procs):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
            _signal_group(proc, signal.SIGKILL)  # children left in the group, if any
        self.procs.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
