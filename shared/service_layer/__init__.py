"""The service layer: the use cases, written against ports.

Processing a camera (``processor``, with ``violations`` recording), the camera job
(``camera_job``), the sweep fan-out (``sweep``), the alert dispatcher (``alerts``), and
``idempotency``: row ids, every Redis key, and the one ``claim`` used by every
claim → act → confirm/release.
"""
