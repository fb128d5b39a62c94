"""The local stack: real Redis and emulators on free ports, a camera server, the functions.

Used by ``make run``/``make up`` and by the integration and end-to-end tests. Everything it
starts runs in its own process group and is stopped by that group on exit, error or Ctrl-C.
"""
