"""Crawl runs as subprocesses: one `scrapy crawl` process per run, with a wall-clock limit.

The process is started as `python -m monitor.commands SLUG...`, the same command as
`scrapy crawl` without loading Scrapy's other commands.

A crash or hang in one crawl never takes its caller down, and Scrapy's reactor is never
restarted. The crawl records itself in `crawls`; the runner fills in what a crawl could not
record itself: a run it had to kill (timed out) or one that died before writing its row.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor import db, locks, settings
from monitor.errors import MonitorError
from monitor.outlets import Outlet

logger = logging.getLogger("monitor.runner")
crawl_log = logging.getLogger("monitor.crawl")


@dataclass
class RunConfig:
    """How crawl subprocesses are started."""

    db: str
    outlets: str
    topics: str
    since: str | None = None
    base_urls: dict[str, str] = field(default_factory=dict)
    settings: tuple[str, ...] = ()
    timeout: float = 1800.0  # wall-clock limit of one run, seconds
    kill_after: float = 15.0  # after SIGTERM, seconds before SIGKILL


def crawl_command(outlets: Sequence[Outlet], config: RunConfig) -> list[str]:
    """The crawl command line for outlets crawled side by side in one process: `scrapy crawl`
    without Scrapy's other commands (monitor/commands/), which starts faster."""
    cmd = [sys.executable, "-m", "monitor.commands", *(o.slug for o in outlets)]
    if config.since:
        cmd += ["-a", f"since={config.since}"]
    for outlet in outlets:
        if outlet.slug in config.base_urls:
            cmd += ["-a", f"base_url={config.base_urls[outlet.slug]}"]
    for key, value in (
        ("MONITOR_DB", config.db),
        ("MONITOR_OUTLETS", config.outlets),
        ("MONITOR_TOPICS", config.topics),
    ):
        cmd += ["-s", f"{key}={value}"]
    for setting in config.settings:
        cmd += ["-s", setting]
    return cmd


def scrapy_env() -> dict[str, str]:
    """Environment for a crawl subprocess, whatever the caller's folder."""
    env = dict(os.environ)
    env["SCRAPY_SETTINGS_MODULE"] = "monitor.settings"
    root = str(Path(settings.ROOT))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


class CrawlRunner:
    """Runs crawls in subprocesses and keeps track of the ones still going."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.running: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()

    def run(self, outlet: Outlet) -> str:
        """One crawl of `outlet`, to the end or to the time limit; returns its status."""
        started = time.monotonic()
        proc = subprocess.Popen(
            crawl_command([outlet], self.config),
            env=scrapy_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # Ctrl-C reaches the scheduler, which decides
        )
        with self.lock:
            self.running[outlet.slug] = proc
        logger.info("%s: crawl started (pid %d)", outlet.slug, proc.pid)
        reader = threading.Thread(target=_relay, args=(proc, outlet.slug), daemon=True)
        reader.start()
        timed_out = False
        try:
            try:
                proc.wait(timeout=self.config.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                logger.warning(
                    "%s: over the %gs limit; stopping it", outlet.slug, self.config.timeout
                )
                self.stop(proc)
            reader.join(timeout=5)
            try:
                status, summary = self.record(outlet, proc.pid, timed_out, proc.returncode)
            except (MonitorError, sqlite3.OperationalError) as exc:  # locked past the timeout
                status, summary = "not recorded", f" ({exc})"
        finally:
            with self.lock:
                self.running.pop(outlet.slug, None)
        elapsed = time.monotonic() - started
        logger.info("%s: crawl %s in %.1f s%s", outlet.slug, status, elapsed, summary)
        return status

    def stop(self, proc: subprocess.Popen) -> None:
        """SIGTERM (Scrapy shuts down cleanly), then SIGKILL if it does not end in time."""
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self.config.kill_after)
        except subprocess.TimeoutExpired:
            try:  # the crawl and its extraction workers: it runs in a session of its own
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                proc.kill()
            proc.wait()

    def record(
        self, outlet: Outlet, pid: int, timed_out: bool, returncode: int | None = None
    ) -> tuple[str, str]:
        """Make sure the run has a finished `crawls` row; return its status and a summary
        (its counts, and the first failure's reason when nothing was stored)."""
        database = db.open_db(self.config.db)
        try:
            row = database.execute(
                "SELECT id, status FROM crawls WHERE outlet = ? AND pid = ? "
                "ORDER BY id DESC LIMIT 1",
                [outlet.slug, pid],
            ).fetchone()
            if row is None and returncode == locks.BUSY_EXIT and not timed_out:
                return "skipped (another process is crawling it)", ""
            if timed_out or row is None or row[1] == "running":
                # it was stopped, killed (a signal: SIGKILL, the OOM killer), or died before
                # it could record its own end
                if timed_out:
                    status = "timed out"
                elif returncode is not None and returncode < 0:
                    status = "killed"
                else:
                    status = "failed"
                crawl_id = row[0] if row else db.start_crawl(database, outlet.slug, pid=pid)
                db.finish_crawl(database, crawl_id, status)
            else:
                crawl_id, status = row
            return status, _summary(database, crawl_id)
        finally:
            database.close()

    def wait_all(self, grace: float) -> None:
        """Let running crawls finish for up to `grace` seconds, then stop the rest."""
        deadline = time.monotonic() + grace
        while self.active() and time.monotonic() < deadline:
            time.sleep(0.1)
        with self.lock:
            left = list(self.running.values())
        for proc in left:
            logger.warning("stopping crawl pid %d after the %gs grace period", proc.pid, grace)
            self.stop(proc)
        while self.active():  # the job threads record the runs they were waiting on
            time.sleep(0.05)

    def active(self) -> int:
        with self.lock:
            return len(self.running)


def _summary(database: Any, crawl_id: int) -> str:
    """ ": N requests, N new, ..." for a run, with the first failure when it stored nothing."""
    requests, new, updated, failed = database.execute(
        "SELECT requests, new, updated, failed FROM crawls WHERE id = ?", [crawl_id]
    ).fetchone()
    if requests is None:
        return ""
    text = f": {requests} requests, {new} new, {updated} updated, {failed} failed"
    if failed and not (new or updated):
        first = database.execute(
            "SELECT url, reason FROM failures WHERE crawl_id = ? ORDER BY id LIMIT 1", [crawl_id]
        ).fetchone()
        if first:
            text += f" (first: {first[0]}: {first[1]})"
    return text


def _relay(proc: subprocess.Popen, slug: str) -> None:
    """Copy a crawl's log into the monitor log (file only; the console gets summaries)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        crawl_log.info("[%s] %s", slug, line.rstrip())
