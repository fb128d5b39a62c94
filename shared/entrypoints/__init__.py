"""Entry points: the HTTP edge (one helper for every HTTP function) and the Pub/Sub edge.

``functions/<name>/main.py`` hands its trigger to one of these and nothing else.
"""
