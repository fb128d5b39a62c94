"""``make run``'s evidence: the annotated, blurred images of the run, saved where a person can
open them (``.stack/evidence/`` and ``.stack/latest/``), and one signed URL to try.

The images are read from the evidence bucket (fake-gcs-server, in memory: this run's only);
each violation alert the webhook receiver accepted carries a signed URL of its evidence, and
every one is opened, as an integrator would.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import requests

from shared.adapters.blobstore import storage_client
from shared.devstack.stack import PROJECT, LocalStack

Print = Callable[[str], None]


def save_evidence(local: LocalStack, out: Path, say: Print) -> int:
    """Save the bucket's ``evidence/`` and ``latest/`` objects under ``out`` (replacing an
    earlier run's), open every webhook's signed URL, print a summary and one URL; return how
    many evidence images were saved."""
    bucket, host = local.env.get("CAMWATCH_EVIDENCE_BUCKET"), local.env.get("STORAGE_EMULATOR_HOST")
    if not bucket or not host:
        return 0
    client = storage_client(PROJECT, host)
    saved: dict[str, int] = {}
    for kind in ("evidence", "latest"):
        shutil.rmtree(out / kind, ignore_errors=True)
        saved[kind] = 0
        for blob in client.list_blobs(bucket, prefix=f"{kind}/"):
            parts = blob.name.split("/")  # evidence/{camera}/{yyyy}/{mm}/{dd}/{id}.jpg
            path = out / kind / (f"{parts[1]}/{parts[-1]}" if kind == "evidence" else parts[-1])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob.download_as_bytes(timeout=10))
            saved[kind] += 1
    urls = _signed_urls(local)
    opened = sum(requests.get(url, timeout=10).status_code == 200 for _, url in urls)
    say(
        f"\nevidence:     {saved['evidence']} annotated images (people and bystanders blurred) "
        f"in {out / 'evidence'}/; {opened} of {len(urls)} webhooks' signed URLs opened"
    )
    say(f"latest:       {saved['latest']} cameras' latest frames in {out / 'latest'}/")
    if urls:
        camera, url = urls[0]
        say(f"  a signed evidence URL of {camera}, as its webhook had it:\n  {url}")
    return saved["evidence"]


def _signed_urls(local: LocalStack) -> list[tuple[str, str]]:
    """(camera, evidence URL) of each violation webhook the receiver accepted."""
    receiver = local.webhooks
    return sorted(
        (str(d.body["data"]["camera_id"]), str(d.body["data"]["evidence_url"]))
        for d in (receiver.accepted() if receiver else [])
        if d.body
        and d.body.get("type") == "violation.detected"
        and d.body["data"].get("evidence_url")
    )
