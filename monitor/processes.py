"""Process liveness: whether the process that wrote a `crawls` row is still running.

A crawl killed with SIGKILL (or by the OOM killer, or with its machine) cannot record its end,
so its row stays `running`. The next crawl, scheduler or `monitor status` asks here whether its
process is gone and marks it `killed`. A pid alone is not proof of life: pids are reused, so
the process found under it must also have started no later than the crawl did.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from monitor import db

# The crawl writes its row a moment after its process starts; the boot time in /proc/stat is
# whole seconds. A process that started later than this after the crawl is another one.
START_SLACK = 2.0


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def process_start(pid: int) -> tuple[float | None, bool]:
    """(start time as a Unix timestamp or None if unknown, whether the process is running).

    Linux reads /proc/PID/stat (a zombie counts as gone); elsewhere only existence is known.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None, False
        return None, alive(pid)
    except OSError:
        return None, alive(pid)
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # dead, waiting for its parent to collect its status
        return None, False
    boot = _boot_time()
    if boot is None:
        return None, True
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"), True


def alive(pid: int | None) -> bool:
    """True if a process with this pid exists (whoever it belongs to)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def crawl_alive(pid: int | None, started: str | None) -> bool:
    """Whether the crawl that started at `started` (ISO 8601) in process `pid` still runs."""
    if not pid:
        return False
    start, running = process_start(pid)
    if not running:
        return False
    if start is None or not started:
        return True  # cannot tell a reused pid from the crawl: assume it runs
    try:
        crawl_started = datetime.fromisoformat(started).timestamp()
    except ValueError:
        return True
    return start <= crawl_started + START_SLACK


def reap(database: Any) -> int:
    """Mark `killed` every `running` crawl whose process is gone; return how many. Best
    effort: a database locked by another process is left as it is this time."""
    import sqlite3

    try:
        return db.close_dead_crawls(database, crawl_alive)
    except sqlite3.OperationalError:
        return 0
