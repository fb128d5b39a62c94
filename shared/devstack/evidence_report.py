"""``make run``'s evidence: the annotated, blurred images of the run, saved where a person can
open them (``.stack/evidence/`` and ``.stack/latest/``), and one signed URL to try.

Each violation alert the webhook receiver accepted carries a signed URL of its evidence; the
images are downloaded through those URLs (from fake-gcs-server, as an integrator would), and
the cameras' latest frames are read from the bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests

from shared.adapters.blobstore import storage_client
from shared.devstack.stack import PROJECT, LocalStack

Print = Callable[[str], None]
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def save_evidence(local: LocalStack, out: Path, say: Print) -> int:
    """Download the run's evidence into ``out/evidence/{camera}/`` and the latest frames into
    ``out/latest/``; print one signed URL; return how many evidence images were saved."""
    receiver = local.webhooks
    deliveries = receiver.accepted() if receiver else []
    urls = {
        d.webhook_id: (str(d.body["data"]["camera_id"]), str(d.body["data"]["evidence_url"]))
        for d in deliveries
        if d.body
        and d.body.get("type") == "violation.detected"
        and d.body["data"].get("evidence_url")
    }
    saved = 0
    for violation_id, (camera, url) in sorted(urls.items()):
        answer = requests.get(url, timeout=10)
        if answer.status_code != 200 or len(answer.content) > MAX_IMAGE_BYTES:
            say(f"  evidence of {violation_id}: HTTP {answer.status_code} from its signed URL")
            continue
        path = out / "evidence" / camera / f"{violation_id}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(answer.content)
        saved += 1
    latest = _save_latest(local, out / "latest")
    say(
        f"\nevidence: {saved} annotated images (bystanders blurred) in {out / 'evidence'}/, "
        f"{latest} latest frames in {out / 'latest'}/"
    )
    if urls:
        violation_id, (camera, url) = sorted(urls.items())[0]
        say(
            f"  the signed URL of {camera}'s violation {violation_id[:12]} (as its webhook had it):"
        )
        say(f"  {url}")
    return saved


def _save_latest(local: LocalStack, out: Path) -> int:
    """Each camera's ``latest/{camera}.jpg`` from the evidence bucket."""
    bucket = local.env.get("CAMWATCH_EVIDENCE_BUCKET")
    host = local.env.get("STORAGE_EMULATOR_HOST")
    if not bucket or not host:
        return 0
    client = storage_client(PROJECT, host)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for blob in client.list_blobs(bucket, prefix="latest/"):
        (out / Path(blob.name).name).write_bytes(blob.download_as_bytes(timeout=10))
        count += 1
    return count
