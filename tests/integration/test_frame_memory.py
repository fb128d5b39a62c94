"""Decompression bombs in real processes: peak memory bounded, OpenCV's own limit in force.

Each measurement runs ``tests.bomb_probe`` in a fresh interpreter (``ru_maxrss`` is a whole
process's peak): under 1 GiB for any single frame, under 2 GiB for eight decoded at once.
Plain OpenCV takes over 5 GB for the 30000x30000 JPEG (``--opencv``; not run here).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT, clean_env

pytestmark = pytest.mark.integration

SINGLE = {
    "jpeg 30000": "3750x3750",
    "jpeg 32768": "4096x4096",
    "jpeg 65500": "too_large",
    "progressive 30000": "too_large",
    "progressive 5792": "2896x2896",
    "png 20000": "too_large",
    "png 4096 zeros": "4096x4096",
    "gif 65535": "too_large",
    "webp 16383": "too_large",
    "bmp 30000": "too_large",
}
EIGHT = [
    "jpeg 32768",
    "jpeg 30000",
    "progressive 5792",
    "progressive 5792",
    "png 4096 zeros",
    "png 4096 zeros",
    "jpeg 65500",
    "progressive 30000",
]


def _probe(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bomb_probe", *args],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(("bomb", "outcome"), SINGLE.items(), ids=list(SINGLE))
def test_one_bomb_stays_under_1_gib(bomb: str, outcome: str) -> None:
    result = _probe(bomb)
    assert result["outcomes"] == {bomb: outcome}
    assert result["peak_rss_mb"] < 1024, result


def test_eight_bombs_at_once_stay_under_2_gib() -> None:
    result = _probe("--together", *EIGHT)
    assert set(result["outcomes"].values()) == {
        "4096x4096",
        "3750x3750",
        "2896x2896",
        "too_large",
    }
    assert result["peak_rss_mb"] < 2048, result


_OPENCV_ALONE = """
import sys
{first}
import cv2, numpy as np
from tests.bombs import jpeg_bomb
try:
    image = cv2.imdecode(np.frombuffer(jpeg_bomb(9000, 9000), np.uint8), cv2.IMREAD_COLOR)
    print("decoded" if image is not None else "none")
except cv2.error:
    print("refused")
"""


@pytest.mark.parametrize(
    ("first", "outcome"),
    [("import shared", "refused"), ("", "decoded")],
    ids=["camwatch imported first", "opencv alone"],
)
def test_opencv_limit_is_set_before_cv2_is_imported(first: str, outcome: str) -> None:
    """Importing camwatch sets OpenCV's own pixel limit (81 MP > 67 MP) before cv2 reads it."""
    env = {k: v for k, v in clean_env().items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    done = subprocess.run(
        [sys.executable, "-c", _OPENCV_ALONE.format(first=first)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == outcome
