"""`monitor demo`: the whole system without a network.

The replica sites the tests use (monitor/replica: Orda.kz, both Sputnik editions, a generic
outlet) are served on loopback, the outlets are pointed at them, and the usual seeding,
scheduler and Datasette run against a database of their own, so a newcomer sees articles
arrive, match and appear in the browser within a minute. The sites live (monitor/replica/live.py):
they hold their newest articles back and publish them one by one, edit some and take one down,
so later crawls find new matches, versions and removals too. Politeness delays are off: the
only site crawled is this machine.
"""

from __future__ import annotations

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
