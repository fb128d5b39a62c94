"""The local stack: Redis, the BigQuery, Cloud Storage and Pub/Sub emulators, the camera
server, the webhook receiver, the SMTP sink and the functions, each on a free port
(see ../shared/LOCAL_STACK.md)."""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from shared.devstack.camera_server import IMAGES, CameraServer
from shared.devstack.procs import Stack, free_port, port_open
from shared.devstack.setup import install_duckdb_spatial
from shared.devstack.tools import (
    PUBSUB_LAUNCHER,
    MissingToolError,
    fake_gcs_binary,
    http_ok,
    read_maildir,
    redis_ok,
)
from shared.devstack.topology import create_topology
from shared.devstack.webhook_receiver import WebhookReceiver, new_secret
from shared.messages.topology import ROUTES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROJECT = "camwatch-local"
DEMO_BUCKET = "camwatch-demo-frames"
DEMO_OBJECT = "cam-gcs-harbour/latest.jpg"


@dataclass
class LocalStack:
    """Starts the parts on free ports; ``env`` configures camwatch to use them."""

    stack: Stack
    env: dict[str, str] = field(default_factory=dict)
    camera_server: CameraServer | None = None
    webhooks: WebhookReceiver | None = None
    maildir: Path | None = None
    function_url: str | None = None
    predictions_url: str | None = None
    event_urls: dict[str, str] = field(default_factory=dict)
    inference_url: str | None = None

    def start_redis(self, keep_in: Path | None = None) -> None:
        """A throw-away redis-server: loopback only, a password (AUTH); no persistence, or
        an append-only file in ``keep_in`` so a restart keeps the keys (make chaos)."""
        server = shutil.which("redis-server")
        if not server:
            raise MissingToolError(
                "redis-server not found: run `make deps` (apt-get install redis-server)"
            )
        port, password = free_port(), secrets.token_urlsafe(24)
        if keep_in is not None:
            keep_in.mkdir(parents=True, exist_ok=True)
        argv = [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *(
                ["--appendonly", "no"]
                if keep_in is None
                else ["--dir", str(keep_in), "--appendonly", "yes", "--appendfsync", "always"]
            ),
            "--requirepass",  # AUTH, as Memorystore has it: the same code path as the cloud's
            password,
        ]
        self.stack.start("redis", argv, lambda: redis_ok(port, password))
        self.env |= {
            "CAMWATCH_REDIS_HOST": "127.0.0.1",
            "CAMWATCH_REDIS_PORT": str(port),
            "CAMWATCH_REDIS_PASSWORD": password,
        }

    def start_bigquery(self, data_dir: Path | None = None) -> None:
        """bqemulator (DuckDB): in memory, or kept in ``data_dir`` (one DuckDB file).

        The file survives a stop (SIGTERM checkpoints it; even after a SIGKILL, DuckDB replays
        its write-ahead log on the next start), so what one command writes the next one reads.
        """
        exe = BIN / "bqemulator"
        if not exe.exists():
            raise MissingToolError("bqemulator is not installed: run `make venv`")
        install_duckdb_spatial()
        rest, grpc = free_port(), free_port()
        argv = [
            str(exe),
            "start",
            "--rest-port",
            str(rest),
            "--grpc-port",
            str(grpc),
            "--project",
            PROJECT,
            "--log-level",
            "warning",
        ]
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            argv += ["--persistent", "--data-dir", str(data_dir)]
        url = f"http://127.0.0.1:{rest}"
        self.stack.start("bigquery", argv, lambda: http_ok(f"{url}/readyz"), timeout_s=60)
        self.env["CAMWATCH_BIGQUERY_ENDPOINT"] = url

    def start_storage(self) -> None:
        """fake-gcs-server, in memory."""
        port = free_port()
        host = f"127.0.0.1:{port}"
        argv = [
            str(fake_gcs_binary()),
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-external-url",
            f"http://{host}",
            "-public-host",
            host,
            "-log-level",
            "warn",
        ]
        self.stack.start("storage", argv, lambda: http_ok(f"http://{host}/_internal/healthcheck"))
        self.env["STORAGE_EMULATOR_HOST"] = f"http://{host}"

    def start_cameras(self) -> None:
        """The camera server (a thread of this process) and the demo ``gs://`` frame."""
        self.camera_server = CameraServer().start()
        self.env |= {
            "CAMWATCH_DEMO_CAMERA_URL": self.camera_server.url,
            "CAMWATCH_DEMO_BUCKET": DEMO_BUCKET,
            "CAMWATCH_ALLOW_PRIVATE_SOURCES": "true",
            "CAMWATCH_PROJECT_ID": PROJECT,
            "CAMWATCH_EVIDENCE_BUCKET": DEMO_BUCKET,
        }
        from google.cloud.storage.retry import DEFAULT_RETRY

        from shared.adapters.blobstore import GcsBlobStore, storage_client

        client = storage_client(PROJECT, self.env["STORAGE_EMULATOR_HOST"])
        bounded = {"timeout": 10, "retry": DEFAULT_RETRY.with_deadline(10)}  # not 120 s each
        if client.lookup_bucket(DEMO_BUCKET, **bounded) is None:
            client.create_bucket(DEMO_BUCKET, **bounded)
        GcsBlobStore(client).write(
            DEMO_BUCKET, DEMO_OBJECT, (IMAGES / "car1.jpg").read_bytes(), "image/jpeg"
        )

    def start_alert_sinks(self) -> None:
        """The webhook receiver (a thread, verifying signatures) and an aiosmtpd SMTP sink.

        The sink is a real SMTP server process writing each email into a Maildir.
        """
        secret = new_secret()
        self.webhooks = WebhookReceiver(secret).start()
        self.maildir = self.stack.log_dir / "maildir"
        shutil.rmtree(self.maildir, ignore_errors=True)  # this stack's emails only
        port = free_port()
        argv = [
            str(BIN / "python"),
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(self.maildir),
        ]
        self.stack.start("smtp", argv, lambda: port_open(port))
        self.env |= {
            "CAMWATCH_WEBHOOK_URL": self.webhooks.url,
            "CAMWATCH_WEBHOOK_SECRET": secret,
            "CAMWATCH_SMTP_HOST": "127.0.0.1",
            "CAMWATCH_SMTP_PORT": str(port),
            "CAMWATCH_SMTP_STARTTLS": "false",
            "CAMWATCH_ALERT_EMAIL_FROM": "camwatch@camwatch.local",
            "CAMWATCH_ALERT_EMAIL_TO": "ops@camwatch.local",
            "CAMWATCH_DEMO_MAILDIR": str(self.maildir),
        }

    def emails(self) -> list[EmailMessage]:
        """Every email the SMTP sink has received."""
        return read_maildir(self.maildir) if self.maildir else []

    def start_pubsub(self) -> None:
        """The Google Cloud CLI's Pub/Sub emulator (Java)."""
        if not PUBSUB_LAUNCHER.is_file():
            raise MissingToolError(
                f"Pub/Sub emulator not found at {PUBSUB_LAUNCHER}: install the Google Cloud CLI "
                "with its Pub/Sub emulator component (`gcloud components install "
                "pubsub-emulator`, or the Debian package google-cloud-cli-pubsub-emulator) and "
                "Java 17, or set CAMWATCH_PUBSUB_EMULATOR to the launcher's path"
            )
        if not shutil.which("java"):
            raise MissingToolError(
                "java not found: the Pub/Sub emulator needs Java 17 (openjdk-17-jre)"
            )
        port = free_port()
        argv = [str(PUBSUB_LAUNCHER), "--host=127.0.0.1", f"--port={port}"]
        self.stack.start("pubsub", argv, lambda: http_ok(f"http://127.0.0.1:{port}/"), timeout_s=60)
        self.env["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        create_topology(PROJECT, self.env["PUBSUB_EMULATOR_HOST"])

    def start_inference(self) -> str:
        """The inference service (functions-framework), ready once its model is warm (once)."""
        if not self.inference_url:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            self.inference_url = self.start_function(
                "inference", "http", port=port, ready=lambda: http_ok(f"{url}/health")
            )
        return self.inference_url

    def backend_env(self) -> dict[str, str]:
        """Settings that point a function at the inference service (when it runs)."""
        if not self.inference_url:
            return {}
        return {
            "CAMWATCH_DETECTOR_BACKEND": "service",
            "CAMWATCH_INFERENCE_URL": self.inference_url,
            "CAMWATCH_INFERENCE_AUTH": "false",
        }

    def start_event_functions(self) -> dict[str, str]:
        """The CloudEvent functions behind push subscriptions, as on Cloud Run (once).

        With the inference service up, they detect through it (``DETECTOR_BACKEND=service``).
        """
        if not self.event_urls:
            urls = {
                r.function: self.start_function(r.function, "cloudevent", self.backend_env())
                for r in ROUTES
            }
            create_topology(PROJECT, self.env["PUBSUB_EMULATOR_HOST"], urls)
            self.event_urls = urls
        return self.event_urls

    def start_function(
        self,
        target: str = "process_camera",
        signature: str = "http",
        extra_env: dict[str, str] | None = None,
        port: int = 0,
        ready: Callable[[], bool] | None = None,
    ) -> str:
        """The function under functions-framework (gunicorn), as Cloud Run would run it."""
        port = port or free_port()
        argv = [
            str(BIN / "functions-framework"),
            f"--source=functions/{target}/main.py",
            f"--target={target}",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--signature-type={signature}",
        ]
        env = {**self.env, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
        self.stack.start(
            target, argv, ready or (lambda: port_open(port)), env=env, cwd=ROOT, timeout_s=60
        )
        url = f"http://127.0.0.1:{port}"
        if target == "process_camera":
            self.function_url = url
        elif target == "predictions":
            self.predictions_url = url
        return url

    def stop(self) -> None:
        """Stop the camera server and every process."""
        for server in (self.camera_server, self.webhooks):
            if server:
                server.stop()
        self.camera_server = self.webhooks = None
        self.stack.stop()
