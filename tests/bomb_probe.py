"""Decode named bombs in this process and print the outcomes and the peak RSS, as JSON.

    python -m tests.bomb_probe "jpeg 30000" "png 20000"        # one after another
    python -m tests.bomb_probe --together "jpeg 30000" ...       # all at once, one thread each
    python -m tests.bomb_probe --opencv "jpeg 30000"             # plain cv2.imdecode (baseline)

Run in a fresh process per measurement. The peak is ``VmHWM`` of ``/proc/self/status``: the
high-water mark of this program's own memory. ``ru_maxrss`` is not used where ``/proc`` is
there: Linux carries it over ``exec`` from the parent, so a probe started by a large test
process would report that process's size.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BOMBS: dict[str, Callable[[], bytes]] = {}


def _bombs() -> dict[str, Callable[[], bytes]]:
    from tests.bombs import bmp_bomb, gif_bomb, jpeg_bomb, png_bomb, webp_bomb, zero_png

    return {
        "jpeg 30000": lambda: jpeg_bomb(30000, 30000),
        "jpeg 32768": lambda: jpeg_bomb(32768, 32768),  # the largest baseline JPEG decoded
        "jpeg 65500": lambda: jpeg_bomb(65500, 65500),
        "progressive 30000": lambda: jpeg_bomb(30000, 30000, True),
        "progressive 5792": lambda: jpeg_bomb(5792, 5792, True),  # the largest decoded
        "png 20000": lambda: png_bomb(20000, 20000),
        "png 4096 zeros": lambda: zero_png(4096, 4096),  # the largest PNG decoded
        "gif 65535": lambda: gif_bomb(65535, 65535),
        "webp 16383": lambda: webp_bomb(16383, 16383),
        "bmp 30000": lambda: bmp_bomb(30000, 30000),
    }


def _decoder(opencv: bool) -> Callable[[bytes], str]:
    if opencv:  # what camwatch did before: OpenCV alone, its limit unset
        import cv2
        import numpy as np

        def plain(data: bytes) -> str:
            try:
                image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            except cv2.error:
                return "cv2.error"
            return "none" if image is None else "x".join(map(str, image.shape[1::-1]))

        return plain
    from shared.domain.frames import FramePolicy, RawFrame
    from shared.errors import FrameError
    from shared.settings import Settings

    s = Settings()
    policy = FramePolicy(
        s.max_frame_bytes, s.max_frame_pixels, s.min_frame_side, s.max_concurrent_decodes
    )

    def camwatch(data: bytes) -> str:
        try:
            width, height = policy.decode(RawFrame("probe", data=data)).size
        except FrameError as exc:
            return exc.kind
        return f"{width}x{height}"

    return camwatch


def _peak_kib() -> int:
    """This process's peak resident memory since it started its program, in KiB."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bombs", nargs="+")
    parser.add_argument("--together", action="store_true", help="decode all at once")
    parser.add_argument("--opencv", action="store_true", help="plain cv2.imdecode")
    args = parser.parse_args()
    decode = _decoder(args.opencv)
    payloads = [_bombs()[name]() for name in args.bombs]
    start = time.perf_counter()
    if args.together:
        with ThreadPoolExecutor(len(payloads)) as pool:
            outcomes = list(pool.map(decode, payloads))
    else:
        outcomes = [decode(p) for p in payloads]
    peak_mb = _peak_kib() / 1024
    print(
        json.dumps(
            {
                "outcomes": dict(zip(args.bombs, outcomes, strict=True)),
                "peak_rss_mb": round(peak_mb, 1),
                "seconds": round(time.perf_counter() - start, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
