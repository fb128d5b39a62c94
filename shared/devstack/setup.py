"""One-time machine set-up for the BigQuery emulator: DuckDB's spatial extension, offline.

bqemulator will not start without ``spatial``, which DuckDB would otherwise download; the
PyPI package ``duckdb-extension-spatial`` ships it (../shared/LOCAL_STACK.md).
"""

from __future__ import annotations

from pathlib import Path


def install_duckdb_spatial() -> Path:
    """Install the bundled extension into ``~/.duckdb/extensions`` unless it is there."""
    import duckdb
    import duckdb_extension_spatial

    version = f"v{duckdb.__version__}"
    bundled = Path(duckdb_extension_spatial.__file__).parent / "extensions" / version
    source = bundled / "spatial.duckdb_extension"
    if not source.is_file():
        raise RuntimeError(f"duckdb-extension-spatial has no build for duckdb {version}")
    installed = list(
        (Path.home() / ".duckdb" / "extensions" / version).glob("*/spatial.duckdb_extension")
    )
    if not installed:
        duckdb.connect().execute(f"INSTALL '{source}'")
        installed = list(
            (Path.home() / ".duckdb" / "extensions" / version).glob("*/spatial.duckdb_extension")
        )
    return installed[0]


if __name__ == "__main__":
    print(f"duckdb spatial extension: {install_duckdb_spatial()}")
