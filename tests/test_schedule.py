"""`monitor schedule` and `monitor status`: real APScheduler, crawl subprocesses, loopback sites."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from monitor.replica.server import ReplicaServer, Reply, Site
from tests.conftest import ROOT, clean_env, run_monitor

CRAWL_SETTINGS = [
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=0",
    "MONITOR_EXTRACT_WORKERS=0",
    "RETRY_TIMES=0",
    "DOWNLOAD_TIMEOUT=5",
    "LOG_LEVEL=INFO",
]


class TinySite(Site):
    """Two articles behind a feed; article pages can be made slow."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def reply(self, method, path, query, headers):
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/robots.txt":
            return Reply(body=b"User-agent: *\nDisallow:\n", headers={"Content-Type": "text/plain"})
        if path == "/feed/":
            items = "".join(
                f"<item><title>Новость {i}</title><link>{self.origin}/novost-{i}-{i}00/</link>"
                f"<pubDate>Mon, 10 Jan 2022 1{i}:00:00 +0600</pubDate></item>"
                for i in (1, 2)
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
            return Reply(body=body.encode(), headers={"Content-Type": "application/rss+xml"})
        for i in (1, 2):
            if path == f"/novost-{i}-{i}00/":
                page = (
                    f"<html><head><title>Новость {i}</title></head><body><h1>Новость {i}</h1>"
                    '<div class="fulltext"><div class="newstext">'
                    f"<p>Первый абзац новости номер {i} о погоде в Алматы на эту неделю.</p>"
                    f"<p>Второй абзац новости {i}: синоптики обещают снег и сильный ветер.</p>"
                    "</div></div></body></html>"
                )
                return Reply(body=page.encode(), headers=html, delay=self.delay)
        return Reply(status=404, body=b"not found", headers=html)


def registry(tmp_path: Path, origin: str, every: str) -> Path:
    path = tmp_path / "outlets.yml"
    path.write_text(
        f"""outlets:
  - slug: orda
    spider: orda
    base_url: {origin}
    feeds: [/feed/]
    article_pattern: '^/[a-z0-9-]+-\\d+/$'
    every: {every}
    extraction:
      body: div.newstext
""",
        encoding="utf-8",
    )
    return path


def start_scheduler(tmp_path: Path, outlets: Path, *args: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "monitor",
        "--db",
        str(tmp_path / "monitor.db"),
        "--outlets",
        str(outlets),
        "--topics",
        "",  # no topic file: nothing to match
        "schedule",
        "--since",
        "2022-01-01",
        *args,
    ]
    for setting in CRAWL_SETTINGS:
        cmd += ["-s", setting]
    env = clean_env()
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def crawl_rows(tmp_path: Path) -> list[dict]:
    path = tmp_path / "monitor.db"
    if not path.exists():
        return []
    try:
        return list(sqlite_utils.Database(path).query("select * from crawls order by id"))
    except Exception:
        return []


def wait_for(predicate, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    # The scheduler waits for the jobs already running (a notification pass, a health check),
    # each of which may wait out the database's busy timeout on a loaded machine.
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out[-3000:]
    return out


def finished(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["finished"]]


def test_a_short_interval_runs_an_outlet_again_and_again(tmp_path):
    with ReplicaServer(TinySite()) as site:
        proc = start_scheduler(tmp_path, registry(tmp_path, site.origin, "1s"))
        try:
            wait_for(lambda: len(finished(crawl_rows(tmp_path))) >= 2)
        finally:
            out = stop(proc)
    rows = finished(crawl_rows(tmp_path))
    assert len(rows) >= 2
    assert all(r["status"] == "ok" for r in rows), rows
    assert rows[0]["new"] == 2 and rows[1]["new"] == 0
    assert "orda: crawl ok" in out


def test_runs_of_one_outlet_never_overlap(tmp_path):
    with ReplicaServer(TinySite(delay=1.5)) as site:
        proc = start_scheduler(tmp_path, registry(tmp_path, site.origin, "1s"))
        try:
            wait_for(lambda: len(finished(crawl_rows(tmp_path))) >= 2, timeout=60)
        finally:
            out = stop(proc)
    rows = finished(crawl_rows(tmp_path))
    for before, after in zip(rows, rows[1:], strict=False):
        assert after["started"] >= before["finished"], (before, after)
    assert "previous run still going" in out


def test_a_failed_crawl_is_recorded_and_the_next_run_still_happens(tmp_path):
    with ReplicaServer(TinySite()) as site:
        site.down()
        proc = start_scheduler(tmp_path, registry(tmp_path, site.origin, "1s"))
        try:
            wait_for(lambda: len(finished(crawl_rows(tmp_path))) >= 2)
        finally:
            stop(proc)
    rows = finished(crawl_rows(tmp_path))
    assert [r["status"] for r in rows[:2]] == ["failed", "failed"]


def test_a_restart_within_the_interval_does_not_crawl_again(tmp_path):
    with ReplicaServer(TinySite()) as site:
        outlets = registry(tmp_path, site.origin, "1h")
        proc = start_scheduler(tmp_path, outlets)
        try:
            wait_for(lambda: len(finished(crawl_rows(tmp_path))) == 1)
        finally:
            stop(proc)
        proc = start_scheduler(tmp_path, outlets)
        try:
            time.sleep(3)
            status = run_monitor(
                "--db", str(tmp_path / "monitor.db"), "--outlets", str(outlets), "status"
            )
        finally:
            stop(proc)
        assert len(crawl_rows(tmp_path)) == 1
        assert site.hits(r"^/feed/") == 1
    line = next(ln for ln in status.stdout.splitlines() if ln.startswith("orda"))
    assert " ok " in line and "not scheduled" not in line
    next_run = line.split()[-1]
    assert next_run > crawl_rows(tmp_path)[0]["started"][:10]


def test_sigterm_during_a_run_ends_cleanly_with_the_run_recorded(tmp_path):
    with ReplicaServer(TinySite(delay=3)) as site:
        proc = start_scheduler(tmp_path, registry(tmp_path, site.origin, "1h"), "--grace", "0.5")
        wait_for(lambda: site.hits(r"^/novost-") >= 1)
        started = time.monotonic()
        out = stop(proc)
        assert time.monotonic() - started < 30
    (row,) = crawl_rows(tmp_path)
    assert row["finished"] and row["status"] in ("stopped", "ok"), row
    assert "SIGTERM: no new runs" in out


def test_a_run_over_its_time_limit_is_stopped_and_recorded_as_timed_out(tmp_path):
    with ReplicaServer(TinySite(delay=20)) as site:
        proc = start_scheduler(tmp_path, registry(tmp_path, site.origin, "1h"), "--timeout", "3")
        try:
            wait_for(lambda: finished(crawl_rows(tmp_path)), timeout=60)
        finally:
            stop(proc)
    (row,) = crawl_rows(tmp_path)
    assert row["status"] == "timed out"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["schedule", "--since", "yesterday"], "is not a date"),
        (["schedule", "nosuch"], "unknown outlet 'nosuch'"),
        (["schedule", "--base-url", "orda=orda.kz"], "not an http(s) origin"),
    ],
)
def test_bad_schedule_arguments_are_one_line_errors(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(tmp_path / "m.db"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
