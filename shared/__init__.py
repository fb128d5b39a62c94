"""camwatch's library, imported by every Cloud Run function.

Packages by layer, each importing only those below it (``.importlinter`` checks it):
``entrypoints`` → ``bootstrap`` → ``service_layer`` → ``detection`` → ``adapters`` →
``messages`` → ``domain``. Beside the layers: ``errors``, ``settings``, ``logs`` and
``metrics``, which any layer may use, and ``devstack``, the local stack (never deployed).
``docs/architecture.md`` draws the tree.
"""

import os

# OpenCV reads its decoder limit once, when ``cv2`` is first imported, so it is set here, before
# any camwatch module imports cv2. It is a backstop under camwatch's own decode policy
# (``shared.domain.frames``), which never asks for more than ``CAMWATCH_MAX_FRAME_PIXELS``.
OPENCV_MAX_PIXELS = 1 << 26
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(OPENCV_MAX_PIXELS))
