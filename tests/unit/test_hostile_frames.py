"""The bad-frame corpus: every kind of hostile or odd frame, with its defined outcome.

Each case is decoded under the camera policy (the default settings: 8 MiB, 4096x4096 px, a
32 px minimum side) and must end as written: decoded (with its size and scale) or one frame
error kind, which the processor records as a camera-health row (see the end of the module).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from shared.domain.frames import FramePolicy, RawFrame
from shared.errors import FrameError
from shared.service_layer.camera_job import handle_job
from shared.settings import Settings
from tests.bombs import (
    bmp_bomb,
    encoded,
    gif_bomb,
    jpeg_bomb,
    png_bomb,
    webp_bomb,
    zero_png,
)
from tests.conftest import jpeg
from tests.unit.fakes import message, registry_of, rig

CAMERA = FramePolicy(8 * 1024 * 1024, 4096 * 4096, 32)


@dataclass(frozen=True)
class Case:
    """A frame and its defined outcome: ``ok`` with a decoded size and scale, or an error kind."""

    data: bytes
    outcome: str
    size: tuple[int, int] | None = None
    scale: int = 1
    content_type: str | None = None


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


CAR = jpeg("car1.jpg")  # 1024x680
CASES = {
    # empty, short, corrupt, truncated
    "empty": Case(b"", "not_image"),
    "one byte": Case(b"\xff", "not_image"),
    "jpeg magic only": Case(b"\xff\xd8\xff", "decode_error"),
    "jpeg magic then zeros": Case(b"\xff\xd8\xff\xe0" + b"\x00" * 500, "decode_error"),
    "jpeg cut in half": Case(_truncated(CAR), "decode_error"),
    "png cut in half": Case(_truncated(encoded("RGB", "PNG", (200, 200))), "decode_error"),
    "gif header only": Case(b"GIF89a....", "decode_error"),
    "png with no pixel data": Case(png_bomb(100, 100), "decode_error"),
    "gif with no pixel data": Case(gif_bomb(100, 100), "decode_error"),
    "bmp with no pixel data": Case(bmp_bomb(100, 100), "decode_error"),
    "jpeg claiming 0x0": Case(jpeg_bomb(0, 0), "decode_error"),
    # bombs: refused from the header, or decoded at reduced scale (baseline JPEG)
    "jpeg bomb 30000x30000": Case(jpeg_bomb(30000, 30000), "ok", (3750, 3750), 8),
    "jpeg bomb 65500x65500": Case(jpeg_bomb(65500, 65500), "too_large"),
    "progressive jpeg bomb 30000x30000": Case(jpeg_bomb(30000, 30000, True), "too_large"),
    "progressive jpeg 5000x5000": Case(jpeg_bomb(5000, 5000, True), "ok", (2500, 2500), 2),
    "24 MP camera jpeg": Case(jpeg_bomb(6000, 4000), "ok", (3000, 2000), 2),
    "jpeg just over the cap": Case(jpeg_bomb(4097, 4096), "ok", (2049, 2048), 2),
    "png bomb 20000x20000": Case(png_bomb(20000, 20000), "too_large"),
    "png just over the cap": Case(png_bomb(4097, 4096), "too_large"),
    "png at the cap, all black": Case(zero_png(4096, 4096), "ok", (4096, 4096)),
    "gif bomb 65535x65535": Case(gif_bomb(65535, 65535), "too_large"),
    "webp bomb 16383x16383": Case(webp_bomb(16383, 16383), "too_large"),
    "bmp bomb 30000x30000": Case(bmp_bomb(30000, 30000), "too_large"),
    "bmp bomb, negative height": Case(bmp_bomb(30000, -30000), "too_large"),
    "over the byte limit": Case(b"\xff\xd8\xff" + b"\x00" * (8 * 1024 * 1024), "too_large"),
    # tiny
    "1x1 jpeg": Case(encoded("RGB", "JPEG", (1, 1)), "too_small"),
    "8x8 png": Case(encoded("RGB", "PNG", (8, 8)), "too_small"),
    "31x31 gif": Case(encoded("P", "GIF", (31, 31)), "too_small"),
    "4000x1 strip": Case(encoded("L", "PNG", (4000, 1)), "too_small"),
    "32x32 jpeg": Case(encoded("RGB", "JPEG", (32, 32)), "ok", (32, 32)),
    # every pixel format a camera might send
    "grey jpeg": Case(encoded("L", "JPEG"), "ok", (64, 48)),
    "cmyk jpeg": Case(encoded("CMYK", "JPEG"), "ok", (64, 48)),
    "progressive jpeg": Case(encoded("RGB", "JPEG", progressive=True), "ok", (64, 48)),
    "rgb png": Case(encoded("RGB", "PNG"), "ok", (64, 48)),
    "rgba png": Case(encoded("RGBA", "PNG"), "ok", (64, 48)),
    "grey png": Case(encoded("L", "PNG"), "ok", (64, 48)),
    "grey+alpha png": Case(encoded("LA", "PNG"), "ok", (64, 48)),
    "palette png": Case(encoded("P", "PNG"), "ok", (64, 48)),
    "1-bit png": Case(encoded("1", "PNG"), "ok", (64, 48)),
    "16-bit png": Case(encoded("I;16", "PNG"), "ok", (64, 48)),
    "gif": Case(encoded("P", "GIF"), "ok", (64, 48)),
    "bmp": Case(encoded("RGB", "BMP"), "ok", (64, 48)),
    "1-bit bmp": Case(encoded("1", "BMP"), "ok", (64, 48)),
    "webp": Case(encoded("RGB", "WEBP"), "ok", (64, 48)),
    "webp with alpha": Case(encoded("RGBA", "WEBP"), "ok", (64, 48)),
    "jpeg with padding after the end": Case(CAR + b"\x00" * 64, "ok", (1024, 680)),
    # disguised types, and pages served with 200
    "tiff": Case(encoded("RGB", "TIFF"), "not_image"),
    "ppm": Case(encoded("RGB", "PPM"), "not_image"),
    "ico": Case(encoded("RGB", "ICO"), "not_image"),
    "riff wave, not webp": Case(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 32, "not_image"),
    "html page as image/jpeg": Case(b"<html>down</html>", "not_image", content_type="image/jpeg"),
    "html page as text/html": Case(b"<html>down</html>", "not_image", content_type="text/html"),
    "json error as application/json": Case(
        b'{"error": "camera offline"}', "not_image", content_type="application/json"
    ),
    "plain text": Case(b"camera offline\n", "not_image", content_type="text/plain"),
    "svg": Case(
        b'<svg xmlns="http://www.w3.org/2000/svg"/>', "not_image", content_type="image/svg+xml"
    ),
    "pdf as image/jpeg": Case(b"%PDF-1.7\n" + b"0" * 100, "not_image", content_type="image/jpeg"),
    "jpeg served as text/html": Case(CAR, "not_image", content_type="text/html"),
    "jpeg served as octet-stream": Case(
        CAR, "ok", (1024, 680), content_type="application/octet-stream"
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_every_bad_frame_has_its_defined_outcome(case: Case) -> None:
    raw = RawFrame("http", data=case.data, content_type=case.content_type)
    if case.outcome != "ok":
        with pytest.raises(FrameError) as caught:
            CAMERA.decode(raw)
        assert caught.value.kind == case.outcome, caught.value.message
        return
    frame = CAMERA.decode(raw)
    assert (frame.size, frame.scale) == (case.size, case.scale)
    assert frame.image.shape[2:] == (3,)


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 40
    assert len({c.outcome for c in CASES.values()}) == 5  # ok and four error kinds


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("jpeg bomb 65500x65500", "too_large"),
        ("png bomb 20000x20000", "too_large"),
        ("8x8 png", "too_small"),
        ("jpeg cut in half", "decode_error"),
        ("html page as image/jpeg", "not_image"),
    ],
)
def test_a_bad_frame_is_a_health_row_not_a_crash(name: str, kind: str) -> None:
    cameras = registry_of({"id": "cam-bad", "source": "http://cam/bad.jpg"})
    bad = rig(cameras, {"http://cam/bad.jpg": CASES[name].data})
    with pytest.raises(FrameError) as caught:
        bad.processor.process("cam-bad", "req-1")
    assert caught.value.kind == kind
    (row,) = bad.warehouse.rows["observations"]
    assert (row["camera_id"], row["frame_status"]) == ("cam-bad", kind)
    assert bad.detector.calls == 0


def test_the_inference_service_takes_small_images() -> None:
    """The minimum side is for camera frames only: callers of the service may send crops."""
    service_policy = FramePolicy(8 * 1024 * 1024, 4096 * 4096)
    assert service_policy.decode(RawFrame("request", data=CASES["8x8 png"].data)).size == (8, 8)
    assert Settings().min_frame_side == CAMERA.min_side


def test_a_bomb_camera_job_is_acknowledged_with_its_health_row() -> None:
    """The 65500x65500 JPEG once escaped as a cv2.error: a 500, and Pub/Sub retried it."""
    cameras = registry_of({"id": "cam-bomb", "source": "http://cam/bomb.jpg"})
    bomb = rig(cameras, {"http://cam/bomb.jpg": jpeg_bomb(65500, 65500)})
    scheduled = datetime.now(UTC).isoformat()
    job = message({"sweep_id": "s1", "camera_id": "cam-bomb", "scheduled_at": scheduled})
    assert handle_job(job, bomb.processor, bomb.cache) == "too_large"
    assert [r["frame_status"] for r in bomb.warehouse.rows["observations"]] == ["too_large"]
