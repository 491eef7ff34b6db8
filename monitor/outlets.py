"""The outlet registry: what to crawl, read from seeds/outlets.yml.

Each entry names an outlet, its spider, base URL, language, discovery paths (feeds, sitemaps,
listings, relative to the base URL), the regex that article paths match, its schedule and its
extraction profile. A bad entry is refused with a message naming the entry and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from monitor.errors import MonitorError

# libyaml's parser when PyYAML was built with it: several times faster than the pure-Python one.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ENTRY_KEYS = {
    "slug",
    "name",
    "spider",
    "base_url",
    "lang",
    "feeds",
    "sitemaps",
    "listings",
    "article_pattern",
    "exclude",
    "every",
    "cron",
    "timezone",
    "extraction",
}
EXTRACTION_KEYS = {
    "body",
    "lead",
    "title",
    "published",
    "modified",
    "author",
    "tags",
    "drop",
    "drop_text",
}
DEFAULT_EVERY = 30 * 60  # seconds
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 60}


@dataclass(frozen=True)
class Outlet:
    """One outlet of the registry."""

    slug: str
    name: str
    base_url: str
    article_pattern: str
    spider: str = "news"
    lang: str | None = None
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    every: float = DEFAULT_EVERY  # seconds between crawls
    cron: str | None = None
    timezone: str = "Asia/Almaty"
    extraction: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def url(self, path: str) -> str:
        """An absolute URL on this outlet's site."""
        return (
            urljoin(self.base_url + "/", path.lstrip("/")) if not path.startswith("http") else path
        )

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc.lower()

    def is_article(self, url: str) -> bool:
        """True if `url` is an article page of this outlet."""
        parts = urlsplit(url)
        if parts.netloc.lower() != self.host:
            return False
        if any(marker in url for marker in self.exclude):
            return False
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return re.search(self.article_pattern, target) is not None

    def with_base_url(self, base_url: str) -> Outlet:
        """The same outlet served from another origin (a mirror, a local replica)."""
        return replace(self, base_url=check_base_url(base_url))


def parse_every(value: Any) -> float | None:
    """A crawl interval in seconds from `every`: minutes (20) or a duration (90s, 20m, 2h)."""
    if value is None:
        return DEFAULT_EVERY
    if isinstance(value, bool):
        return None
    match = _DURATION.match(str(value))
    if not match:
        return None
    seconds = float(match.group(1)) * _UNIT[match.group(2)]
    return seconds if seconds > 0 else None


def check_base_url(value: str) -> str:
    """Validate an origin such as https://orda.kz; return it without a trailing slash."""
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MonitorError(
            f"base_url={value!r} is not an http(s) origin: use e.g. base_url=https://orda.kz"
        )
    return value.rstrip("/")


def load(path: str | Path) -> dict[str, Outlet]:
    """Read and validate the registry; return outlets by slug.

    A crawl asks for the registry several times (each spider, each argument check): the file is
    read each time, but parsed and validated again only when its content has changed.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MonitorError(f"{path}: outlet registry not found") from None
    except OSError as exc:
        raise MonitorError(f"{path}: cannot read the outlet registry: {exc.strerror}") from None
    return dict(_parse(path, raw))


@lru_cache(maxsize=8)
def _parse(path: Path, raw: bytes) -> dict[str, Outlet]:
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=SafeLoader)  # noqa: S506
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MonitorError(f"{path}: not valid YAML: {first}") from None
    entries = data.get("outlets") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise MonitorError(f"{path}: expected a top-level 'outlets:' list of entries")
    outlets: dict[str, Outlet] = {}
    for index, entry in enumerate(entries, 1):
        outlet = _outlet(path, index, entry)
        if outlet.slug in outlets:
            raise MonitorError(f"{path}: outlet '{outlet.slug}': key 'slug': duplicate slug")
        outlets[outlet.slug] = outlet
    return outlets


def _outlet(path: Path, index: int, entry: Any) -> Outlet:
    if not isinstance(entry, dict):
        raise MonitorError(f"{path}: entry {index}: expected a mapping of keys")
    name = entry.get("slug") or f"entry {index}"

    def fail(key: str, why: str) -> MonitorError:
        return MonitorError(f"{path}: outlet '{name}': key '{key}': {why}")

    for key in entry:
        if key not in ENTRY_KEYS:
            raise fail(key, f"unknown key (known: {', '.join(sorted(ENTRY_KEYS))})")
    for key in ("slug", "base_url", "article_pattern"):
        if not entry.get(key):
            raise fail(key, "missing")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", str(entry["slug"])):
        raise fail("slug", "use lower-case letters, digits and _ (it is also a spider argument)")
    try:
        base_url = check_base_url(str(entry["base_url"]))
    except MonitorError as exc:
        raise fail("base_url", str(exc)) from None
    try:
        re.compile(entry["article_pattern"])
    except (re.error, TypeError) as exc:
        raise fail("article_pattern", f"invalid regex: {exc}") from None
    lists = {}
    for key in ("feeds", "sitemaps", "listings", "exclude"):
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(key, "expected a list of strings")
        lists[key] = tuple(value)
    if not (lists["feeds"] or lists["sitemaps"] or lists["listings"]):
        raise fail("feeds", "an outlet needs at least one of feeds, sitemaps or listings")
    every = parse_every(entry.get("every"))
    if every is None:
        raise fail("every", "expected minutes (20) or a duration such as 90s, 20m, 2h")
    cron = entry.get("cron")
    if cron is not None:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(str(cron))
        except ValueError as exc:
            raise fail("cron", f"invalid crontab expression: {exc}") from None
    extraction = entry.get("extraction") or {}
    if not isinstance(extraction, dict):
        raise fail("extraction", "expected a mapping")
    for key, value in extraction.items():
        if key not in EXTRACTION_KEYS:
            raise fail(
                f"extraction.{key}", f"unknown key (known: {', '.join(sorted(EXTRACTION_KEYS))})"
            )
        if key in ("drop", "drop_text") and not isinstance(value, list):
            raise fail(f"extraction.{key}", "expected a list")
    for pattern in extraction.get("drop_text", []):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise fail("extraction.drop_text", f"invalid regex {pattern!r}: {exc}") from None
    return Outlet(
        slug=entry["slug"],
        name=entry.get("name") or entry["slug"],
        base_url=base_url,
        article_pattern=entry["article_pattern"],
        spider=entry.get("spider", "news"),
        lang=entry.get("lang"),
        every=every,
        cron=cron,
        timezone=entry.get("timezone", "Asia/Almaty"),
        extraction=extraction,
        **lists,
    )
