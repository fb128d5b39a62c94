"""The domain: cameras and zones (the registry), frames, detections, the violation rule, and the
typed records the pipeline passes (observations, violations, alerts, jobs).

Python, numpy and OpenCV: no clients, no network (reading the registry file is its only I/O).
Each record builds its own row, message or answer in one place.
"""
