"""The domain: cameras and zones (the registry), frames, detections, the violation rule, and the
typed records the pipeline passes (observations, violations, alerts, jobs).

Pure Python, numpy and OpenCV: no I/O, no clients. Each record builds its own row, message or
answer in one place.
"""
