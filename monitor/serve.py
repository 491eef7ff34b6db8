"""Serve the monitor database in Datasette, configured by the storage/ directory.

storage/ is a Datasette configuration directory (metadata.yml, settings.json, plugins/,
templates/, static/), so `datasette storage/` serves storage/monitor.db as it is. ``serve`` does
the same for a database file anywhere, under the name ``monitor`` whatever the file is called,
because the canned queries, templates and dashboard are configured for that name.

The database is opened read-only but mutable (never Datasette's immutable mode), so pages show
what a running crawl has just written (the database is in WAL mode).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from datasette.app import Database, Datasette
from datasette.utils import parse_metadata

from monitor import db as monitor_db

CONFIG_DIR = Path(__file__).resolve().parent.parent / "storage"
DATABASE = "monitor"


def datasette(db_path: str | Path, config_dir: str | Path = CONFIG_DIR) -> Datasette:
    """A Datasette serving the database at `db_path` as `monitor`, configured by `config_dir`."""
    config = Path(config_dir)
    ds = Datasette(
        [],
        metadata=parse_metadata((config / "metadata.yml").read_text(encoding="utf-8")),
        settings=json.loads((config / "settings.json").read_text(encoding="utf-8")),
        plugins_dir=str(config / "plugins"),
        template_dir=str(config / "templates"),
        static_mounts=[("static", str(config / "static"))],
    )
    ds.remove_database("_memory")  # Datasette adds it when given no files
    ds.add_database(Database(ds, path=str(Path(db_path)), is_mutable=True), name=DATABASE)
    return ds


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8001) -> int:
    """Serve the database at `db_path` on http://host:port/ until interrupted; return 0.

    The database is created and migrated first if needed (a MonitorError explains a path that
    cannot be used), so a fresh installation shows empty tables rather than an error.
    """
    import uvicorn

    monitor_db.open_db(db_path).conn.close()
    ds = datasette(db_path)
    asyncio.run(ds.invoke_startup())
    uvicorn.run(ds.app(), host=host, port=port, log_level="info", lifespan="on", workers=1)
    return 0
