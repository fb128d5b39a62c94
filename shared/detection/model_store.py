"""Model files: a local path, or a ``gs://`` object fetched once per instance; digest, labels.

The object is written to a temporary name and renamed into place, so a crash mid-download
never leaves a truncated model behind for the next load.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from shared.errors import CamwatchError, ModelError

if TYPE_CHECKING:  # the port only: the GCS client loads only for a gs:// model
    from shared.adapters.blobstore import BlobReader

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


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_labels(path: Path) -> npt.NDArray[np.object_]:
    """Read ``<id> <name>`` lines into an array indexed by id (gaps named ``unknown``)."""
    try:
        pairs = [line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip()]
        mapping = {int(i): name.strip() for i, name in pairs}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read labels {path}: {exc}") from exc
    labels = np.full(max(mapping) + 1, "unknown", dtype=object)
    for i, name in mapping.items():
        labels[i] = name
    return labels
