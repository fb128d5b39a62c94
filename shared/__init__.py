"""camwatch's library, imported by every Cloud Run function.

Packages by layer, each importing only those below it (``.importlinter`` checks it):
``entrypoints`` → ``bootstrap`` → ``service_layer`` → ``detection`` → ``adapters`` →
``messages`` → ``domain``. Beside the layers: ``errors``, ``settings``, ``logs`` and
``metrics``, which any layer may use, and ``devstack``, the local stack (never deployed).
``docs/architecture.md`` draws the tree.
"""
