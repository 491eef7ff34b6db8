"""The command line behaves like a mature tool: global options anywhere, busy ports refused
before anything starts, one quiet line per failed request, Datasette's access log off unless
asked, and a log file named after the database."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlite_utils

from monitor import db
from tests.conftest import ROOT, clean_env, run_monitor


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def busy_port():
    """A loopback port held by a listening socket for the test's duration."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def unreachable_registry(tmp_path: Path) -> Path:
    """One generic outlet whose site refuses every connection."""
    path = tmp_path / "outlets.yml"
    path.write_text(
        "outlets:\n"
        "  - slug: gone\n"
        "    name: Gone\n"
        f"    base_url: http://127.0.0.1:{closed_port()}\n"
        "    lang: ru\n"
        "    feeds: [/rss]\n"
        "    sitemaps: [/sitemap.xml]\n"
        "    listings: [/news]\n"
        "    article_pattern: '^/news/\\d+$'\n",
        "utf-8",
    )
    return path


@pytest.mark.parametrize("form", ["separate", "equals"])
def test_global_options_work_after_the_subcommand(tmp_path, form):
    db_path = tmp_path / "after.db"
    args = ["--db", str(db_path)] if form == "separate" else [f"--db={db_path}"]
    result = run_monitor("seed", *args)
    assert result.returncode == 0, result.stderr
    assert sqlite_utils.Database(db_path)["articles"].count == 2
    result = run_monitor("status", *args, "--outlets", str(ROOT / "seeds" / "outlets.yml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OUTLET")


def test_a_global_option_without_value_says_so(tmp_path):
    result = run_monitor("status", "--db")
    assert result.returncode == 2
    assert "requires an argument" in result.stderr


@pytest.mark.parametrize("command", ["serve", "run", "demo"])
def test_a_busy_port_stops_before_anything_starts(tmp_path, busy_port, command):
    db_path = tmp_path / "busy.db"
    result = run_monitor("--db", str(db_path), command, "--port", str(busy_port), timeout=30)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"Error: port {busy_port} on 127.0.0.1 is already in use; stop what holds it or "
        "choose another with --port"
    )
    assert not db_path.exists()  # nothing seeded, no scheduler, no replica started


def test_an_unreachable_outlet_logs_one_warning_line_per_failed_request(
    tmp_path, unreachable_registry
):
    db_path = tmp_path / "gone.db"
    result = run_monitor(
        "--db", str(db_path), "--outlets", str(unreachable_registry), "crawl", "gone", timeout=120
    )
    assert result.returncode == 1
    log = result.stdout + result.stderr
    assert "Traceback" not in log
    assert "Enabled downloader middlewares" not in log and "Dumping Scrapy stats" not in log
    gave_up = [line for line in log.splitlines() if "Gave up retrying" in line]
    # robots.txt and the three discovery pages, once each, as warnings
    assert sorted(line.split("<GET ")[1].split(">")[0].rsplit("/", 1)[1] for line in gave_up) == [
        "news",
        "robots.txt",
        "rss",
        "sitemap.xml",
    ]
    assert all("WARNING" in line and "Connection was refused" in line for line in gave_up)
    assert len(log.splitlines()) < 25
    assert sqlite_utils.Database(db_path)["crawls"].get(1)["status"] == "failed"


def test_debug_logging_keeps_the_tracebacks(tmp_path, unreachable_registry):
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "gone", "-L", "DEBUG"]
        + ["-s", f"MONITOR_DB={tmp_path / 'debug.db'}"]
        + ["-s", f"MONITOR_OUTLETS={unreachable_registry}", "-s", "RETRY_TIMES=0"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "Enabled downloader middlewares" in result.stderr


def serve_and_get(db_path: Path, *flags: str) -> str:
    """Start `monitor serve`, fetch its home page, stop it; return what it printed."""
    port = closed_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", str(db_path), "serve", "--port", str(port)]
        + list(flags),
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json") as r:
                    assert r.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "Datasette did not start"
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    return output


def test_datasette_logs_no_requests_unless_asked(db_path):
    assert "GET /-/versions.json" not in serve_and_get(db_path)
    assert "GET /-/versions.json" in serve_and_get(db_path, "--access-log")


def test_the_scheduler_log_is_named_after_its_database(tmp_path, unreachable_registry):
    db_path = tmp_path / "demo.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", str(db_path)]
        + ["--outlets", str(unreachable_registry), "schedule"],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        log = tmp_path / "demo.log"
        deadline = time.monotonic() + 30
        while "crawl started" not in (log.read_text("utf-8") if log.exists() else ""):
            assert time.monotonic() < deadline, "no crawl logged"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert not (tmp_path / "monitor.log").exists()


def status_of(db_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(db_path), "status"],
        cwd=ROOT,
        env={**clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_shows_times_in_one_zone_and_only_the_outlets_crawled_here(tmp_path):
    db_path = tmp_path / "demo.db"
    database = db.open_db(db_path)
    database["crawls"].insert(
        {"outlet": "orda", "started": "2026-12-05T06:00:00+00:00", "status": "ok", "new": 3}
    )
    database["schedule"].insert(
        {"outlet": "sputnik_kz", "next_run": "2026-12-05T07:00:00+00:00", "scheduler_pid": 0}
    )
    database.close()
    result = status_of(db_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == ["orda", "sputnik_kz"]
    assert "2026-12-05T11:00:00+05:00" in lines[1] and "+00:00" not in result.stdout
    assert lines[3] == "times in Asia/Almaty"
    assert lines[4].startswith("not crawled with this database: sputnik_ru, tengrinews")
    in_utc = status_of(db_path, MONITOR_TIMEZONE="UTC").stdout
    assert "2026-12-05T06:00:00+00:00" in in_utc and "times in UTC" in in_utc
    bad = status_of(db_path, MONITOR_TIMEZONE="Mars/Olympus")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "Error: MONITOR_TIMEZONE='Mars/Olympus' is not a time zone (use a name such as Asia/Almaty)"
    )
