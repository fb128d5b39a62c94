"""Adapters: each outside service behind a small port (a ``Protocol``) in the module of its real
adapter; the stores have one each, cameras and alert channels one per kind.

``cache`` (Redis), ``warehouse`` (BigQuery), ``blobstore`` (Cloud Storage: evidence, models,
``gs://`` frames), ``bus`` (Pub/Sub), ``frame_sources`` and ``http_snapshot`` (cameras),
``alert_channels`` with ``webhook`` and ``smtp``; ``google_clients`` holds what the Google
clients share. Plain dicts exist only here, built from the domain's records.
"""
