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
import errno
import json
import socket
from pathlib import Path

from datasette.app import Database, Datasette
from datasette.utils import parse_metadata

from monitor import dates
from monitor import db as monitor_db
from monitor.errors import MonitorError

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


def check_port(host: str, port: int) -> None:
    """Raise MonitorError with a one-line reason if Datasette could not listen on host:port."""
    if not 0 < port < 65536:
        raise MonitorError(f"port {port} is not a valid port (1-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise MonitorError(f"cannot listen on {host}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise MonitorError(
                    f"port {port} on {host} is already in use; stop what holds it or choose "
                    "another with --port"
                ) from None
            raise MonitorError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(
    db_path: str | Path, host: str = "127.0.0.1", port: int = 8001, access_log: bool = False
) -> int:
    """Serve the database at `db_path` on http://host:port/ until interrupted; return 0.

    The database is created and migrated first if needed (a MonitorError explains a path that
    cannot be used), so a fresh installation shows empty tables rather than an error. A port
    that is taken is a MonitorError too. Requests are logged only with `access_log`.
    """
    import uvicorn

    check_port(host, port)
    dates.display_zone()  # a bad MONITOR_TIMEZONE is a one-line error now, not on every page
    monitor_db.open_db(db_path).conn.close()
    ds = datasette(db_path)
    asyncio.run(ds.invoke_startup())
    uvicorn.run(
        ds.app(),
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        lifespan="on",
        workers=1,
    )
    return 0
