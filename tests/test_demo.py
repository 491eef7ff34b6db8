"""`monitor demo`: replicas, seeding, scheduler and Datasette together, offline, within a minute."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT

REPLICAS = {"orda", "sputnik_ru", "sputnik_kz", "tengrinews"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_demo_shows_articles_arriving_matching_and_browsable(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    log = (tmp_path / "output.log").open("w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "--db",
            str(tmp_path / "demo.db"),
            "demo",
            "--port",
            str(port),
            "--every",
            "10m",
            "--news-every",
            "2s",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    outlets: set[str] = set()
    started = time.monotonic()
    matched = 0
    error = None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not (outlets >= REPLICAS and matched):
            time.sleep(1)
            try:
                rows = get_json(
                    f"{base}/monitor.json?_shape=array&sql="
                    "select+outlet+from+articles+where+source='crawl'+group+by+outlet"
                )
                outlets = {r["outlet"] for r in rows}
                matched = get_json(
                    f"{base}/monitor.json?_shape=array&sql=select+count(*)+as+n+from+matches"
                )[0]["n"]
            except OSError as exc:
                error = exc
                continue
        assert outlets == REPLICAS, error
        assert matched > 0
        print(
            f"demo: articles of {len(outlets)} outlets and {matched} matches in "
            f"{time.monotonic() - started:.1f} s"
        )
        with urllib.request.urlopen(f"{base}/topics/qantar", timeout=5) as page:
            assert page.status == 200
        # the demo's inbox on loopback receives the notifications of the new matches
        deadline = time.monotonic() + 45
        while "notification received: " not in (tmp_path / "output.log").read_text("utf-8"):
            assert time.monotonic() < deadline, "no notification reached the demo's inbox"
            time.sleep(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        log.close()
        out = (tmp_path / "output.log").read_text()
    assert proc.returncode == 0, out[-3000:]
    assert "scheduler stopped" in out
    # the replica sites lived meanwhile: the newsroom published articles held back at the start
    assert "newsroom: " in out and " published http://127.0.0.1:" in out
