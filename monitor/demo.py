"""`monitor demo`: the whole system without a network.

The replica sites the tests use (monitor/replica: Orda.kz, both Sputnik editions, a generic
outlet) are served on loopback, the outlets are pointed at them, and the usual seeding,
scheduler and Datasette run against a database of their own, so a newcomer sees articles
arrive, match and appear in the browser within a minute. The sites live (monitor/replica/live.py):
they hold their newest articles back and publish them one by one, edit some and take one down,
so later crawls find new matches, versions and removals too. Notifications go to an inbox on
loopback (a JSON webhook receiver) that prints each message it receives, so the alerts are seen
too; nothing leaves the machine. Politeness delays are off: the only site crawled is this machine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from monitor.replica.generic import GenericSite
from monitor.replica.live import LiveSite, Newsroom
from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer
from monitor.replica.sputnik import SputnikSite

SINCE = "2021-11-01"  # the replicas' articles are from the winter of 2021-22
FAST = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=0", "CONCURRENT_REQUESTS_PER_DOMAIN=4")


def start_replicas(hold_back: int = 4) -> dict[str, ReplicaServer]:
    """Start one loopback server per replica site, each a LiveSite holding back its
    `hold_back` newest articles; returns the servers by outlet slug."""
    sites = {
        "orda": OrdaSite(),
        "sputnik_ru": SputnikSite(edition="ru"),
        "sputnik_kz": SputnikSite(edition="kz"),
        "tengrinews": GenericSite(),
    }
    return {slug: ReplicaServer(LiveSite(site, hold_back)).start() for slug, site in sites.items()}


def newsroom(servers: dict[str, ReplicaServer], every: float, report) -> Newsroom:
    """The newsroom that makes the replicas live, started."""
    return Newsroom({slug: s.site for slug, s in servers.items()}, every, report).start()


def write_registry(source: Path, target: Path, origins: dict[str, str], every: str) -> None:
    """A copy of the registry with only the replicated outlets, pointed at the replicas."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    entries = []
    for entry in data["outlets"]:
        if entry["slug"] in origins:
            entries.append({**entry, "base_url": origins[entry["slug"]], "every": every})
    target.write_text(yaml.safe_dump({"outlets": entries}, allow_unicode=True), encoding="utf-8")


class Inbox:
    """A JSON webhook receiver on loopback (Apprise's json:// posts here) that reports each
    notification's title; the demo's only notification destination."""

    def __init__(self, report: Callable[[str], None]):
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    title = json.loads(self.rfile.read(length) or b"{}").get("title") or ""
                except ValueError:
                    title = "(unreadable)"
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                inbox.received.append(title)
                report(f"notification received: {title}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.received: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, name="inbox", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_notifications(source: Path, topics: Path, config: Path, inbox: Inbox) -> None:
    """A copy of the topic file whose topics notify the demo's inbox, and its notify.yml."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for topic in data.get("topics") or []:
        topic["notify"] = ["demo"]
    topics.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    config.write_text(
        yaml.safe_dump({"destinations": {"demo": inbox.url}, "health": ["demo"]}), "utf-8"
    )
