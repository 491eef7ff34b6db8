"""`monitor demo`: the whole system without a network.

The replica sites the tests use (tests/replica: Orda.kz, both Sputnik editions, a generic
outlet) are served on loopback, the outlets are pointed at them, and the usual seeding,
scheduler and Datasette run against a database of their own, so a newcomer sees articles
arrive, match and appear in the browser within a minute. Politeness delays are off: the only
site crawled is this machine.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from monitor import settings
from monitor.errors import MonitorError

SINCE = "2021-11-01"  # the replicas' articles are from the winter of 2021-22
FAST = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=0", "CONCURRENT_REQUESTS_PER_DOMAIN=4")


def start_replicas() -> dict[str, Any]:
    """Start one loopback server per replica site; returns servers by outlet slug."""
    sys.path.insert(0, str(settings.ROOT))
    try:
        from tests.replica.generic import GenericSite
        from tests.replica.orda import OrdaSite
        from tests.replica.server import ReplicaServer
        from tests.replica.sputnik import SputnikSite
    except ImportError as exc:
        raise MonitorError(
            f"the demo serves the replica sites in tests/replica, which are missing ({exc})"
        ) from None
    sites = {
        "orda": OrdaSite(),
        "sputnik_ru": SputnikSite(edition="ru"),
        "sputnik_kz": SputnikSite(edition="kz"),
        "tengrinews": GenericSite(),
    }
    return {slug: ReplicaServer(site).start() for slug, site in sites.items()}


def write_registry(source: Path, target: Path, origins: dict[str, str], every: str) -> None:
    """A copy of the registry with only the replicated outlets, pointed at the replicas."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    entries = []
    for entry in data["outlets"]:
        if entry["slug"] in origins:
            entries.append({**entry, "base_url": origins[entry["slug"]], "every": every})
    target.write_text(yaml.safe_dump({"outlets": entries}, allow_unicode=True), encoding="utf-8")
