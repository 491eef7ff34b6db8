"""Outlet locks: at most one crawl of an outlet at a time, across processes.

The scheduler never overlaps two runs of an outlet, but a crawl started by hand (or a second
scheduler) would run beside it and double the load on the site. Each crawl therefore holds a
lock file per outlet beside the database (`monitor.db.crawl-SLUG.lock`), locked with
fcntl.lockf: a POSIX record lock, released when the process ends however it ends (SIGKILL
included) and not inherited by the extraction worker processes. The file holds the holder's pid
for the message of the crawl that is turned away.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from monitor.errors import MonitorError

try:
    import fcntl
except ImportError:  # not a POSIX system: no cross-process lock
    fcntl = None  # type: ignore[assignment]

# Exit status of a crawl that did not start because another process crawls the outlet.
BUSY_EXIT = 3


class OutletBusy(MonitorError):
    """Another process is crawling the outlet; the message names it."""


def lock_path(db_path: str | os.PathLike[str], slug: str) -> Path:
    """The lock file of one outlet's crawls on the database at `db_path`."""
    path = Path(db_path)
    return path.with_name(f"{path.name}.crawl-{slug}.lock")


def hold(db_path: str | os.PathLike[str], slugs: Iterable[str]) -> list[int]:
    """Lock every outlet in `slugs` for this process (all or none); return the open file
    descriptors, which keep the locks until they are closed or the process ends.

    Raises OutletBusy when another process holds one of them.
    """
    held: list[int] = []
    if fcntl is None:
        return held
    try:
        for slug in slugs:
            path = lock_path(db_path, slug)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise MonitorError(f"cannot create lock file {path}: {exc.strerror}") from None
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise OutletBusy(
                    f"{slug} is being crawled by another process (pid {holder}); "
                    "not starting a second crawl of it"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            held.append(fd)
    except BaseException:
        release(held)
        raise
    return held


def release(held: list[int]) -> None:
    """Let go of locks taken by hold()."""
    for fd in held:
        os.close(fd)
    held.clear()
