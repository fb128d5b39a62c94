"""Where the model file comes from: a local path, or a ``gs://`` object fetched once per instance.

The object is written to a temporary name and renamed into place, so a crash mid-download
never leaves a truncated model behind for the next load.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from shared.errors import CamwatchError, ModelError
from shared.frame_sources import BlobReader

MAX_MODEL_BYTES = 2 * 1024**3


def fetch_model(uri: str, blobs: BlobReader, cache_dir: Path) -> Path:
    """The local copy of ``gs://bucket/object`` (downloaded unless already there)."""
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket or not name:
        raise ModelError(f"model URI must be gs://bucket/object, got {uri!r}")
    target = cache_dir / hashlib.sha256(uri.encode()).hexdigest()[:16] / Path(name).name
    if target.is_file():
        return target
    try:
        data = blobs.read(bucket, name, MAX_MODEL_BYTES)
    except CamwatchError as exc:
        raise ModelError(f"cannot fetch model {uri}: {exc.message}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, target)
    return target
