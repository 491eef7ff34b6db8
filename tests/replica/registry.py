"""A copy of the project's outlet registry (seeds/outlets.yml) pointed at replicas on loopback.

For crawls of several outlets at once, where a `-a base_url=` cannot say which outlet it is for.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent


def write_registry(path: Path, origins: Mapping[str, str]) -> Path:
    """Write the registry entries of the outlets in `origins` to `path`, each with its
    `base_url` replaced by the replica's origin; return `path`."""
    data = yaml.safe_load((ROOT / "seeds" / "outlets.yml").read_text(encoding="utf-8"))
    data["outlets"] = [
        {**entry, "base_url": origins[entry["slug"]]}
        for entry in data["outlets"]
        if entry["slug"] in origins
    ]
    missing = set(origins) - {entry["slug"] for entry in data["outlets"]}
    assert not missing, f"not in seeds/outlets.yml: {sorted(missing)}"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
