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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.errors import MonitorError
from monitor.patterns import PatternError, compile_pattern

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
    "allowed_hosts",
}
# The spiders an entry can name, and the one outlet each crawls (None: any outlet, by its entry).
SPIDERS: dict[str, str | None] = {
    "news": None,
    "orda": "orda",
    "sputnik_ru": "sputnik_ru",
    "sputnik_kz": "sputnik_kz",
}
LANGUAGES = ("ru", "kk")
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
# A host name with an optional port, as `allowed_hosts` lists them.
_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?", re.I)
# The `::attr(name)` suffix that the extraction selectors of single values may carry.
_ATTR = re.compile(r"::attr\([\w:-]+\)$")


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
    allowed_hosts: tuple[str, ...] = ()  # other hosts its pages may lead to (a CDN, an edition)
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
    try:
        parts = urlsplit(value or "")
    except ValueError:
        parts = urlsplit("")
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
    except UnicodeDecodeError as exc:
        raise MonitorError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        raise MonitorError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
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


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line, with the line and column where the parser gave up."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0] or type(exc).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + problem


def _outlet(path: Path, index: int, entry: Any) -> Outlet:
    if not isinstance(entry, dict):
        raise MonitorError(f"{path}: entry {index}: expected a mapping of keys")
    slug = entry.get("slug")
    name = slug if isinstance(slug, str) and slug else f"entry {index}"

    def fail(key: str, why: str) -> MonitorError:
        return MonitorError(f"{path}: outlet '{name}': key '{key}': {why}")

    for key in entry:
        if key not in ENTRY_KEYS:
            raise fail(key, f"unknown key (known: {', '.join(sorted(map(str, ENTRY_KEYS)))})")
    for key in ("slug", "base_url", "article_pattern"):
        if entry.get(key) is None or entry.get(key) == "":
            raise fail(key, "missing")
    for key in ("slug", "name", "spider", "base_url", "lang", "timezone", "cron"):
        if key in entry and not isinstance(entry[key], str):
            raise fail(key, f"expected a string, not {entry[key]!r}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug):
        raise fail("slug", "use lower-case letters, digits and _ (it is also a spider argument)")
    spider = entry.get("spider", "news")
    if spider not in SPIDERS:
        raise fail("spider", f"no spider named {spider!r} (spiders: {', '.join(SPIDERS)})")
    if SPIDERS[spider] not in (None, slug):
        raise fail("spider", f"the {spider} spider crawls only the outlet {SPIDERS[spider]!r}")
    lang = entry.get("lang")
    if lang is not None and lang not in LANGUAGES:
        raise fail("lang", f"expected one of {', '.join(LANGUAGES)}, not {lang!r}")
    timezone = entry.get("timezone", "Asia/Almaty")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("timezone", f"unknown time zone {timezone!r} (e.g. Asia/Almaty)") from None
    try:
        base_url = check_base_url(entry["base_url"])
    except MonitorError as exc:
        raise fail("base_url", str(exc)) from None
    try:
        compile_pattern(entry["article_pattern"])
    except PatternError as exc:
        raise fail("article_pattern", str(exc)) from None
    lists = {}
    for key in ("feeds", "sitemaps", "listings", "exclude", "allowed_hosts"):
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(key, "expected a list of strings")
        lists[key] = tuple(value)
    if not (lists["feeds"] or lists["sitemaps"] or lists["listings"]):
        raise fail("feeds", "an outlet needs at least one of feeds, sitemaps or listings")
    for host in lists["allowed_hosts"]:
        if not _HOST.fullmatch(host):
            raise fail("allowed_hosts", f"{host!r} is not a host name (e.g. cdn.orda.kz)")
    every = parse_every(entry.get("every"))
    if every is None:
        raise fail("every", "expected minutes (20) or a duration such as 90s, 20m, 2h")
    cron = entry.get("cron")
    if cron is not None:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(cron)
        except ValueError as exc:
            raise fail("cron", f"invalid crontab expression: {exc}") from None
    extraction = entry.get("extraction") or {}
    if not isinstance(extraction, dict):
        raise fail("extraction", "expected a mapping")
    for key, value in extraction.items():
        why = _extraction_problem(key, value)
        if why:
            raise fail(f"extraction.{key}", why)
    return Outlet(
        slug=slug,
        name=entry.get("name") or slug,
        base_url=base_url,
        article_pattern=entry["article_pattern"],
        spider=spider,
        lang=lang,
        every=every,
        cron=cron,
        timezone=timezone,
        extraction=extraction,
        **lists,
    )


def _extraction_problem(key: Any, value: Any) -> str | None:
    """Why an `extraction` entry cannot be used (None: it can): its selectors and patterns are
    compiled here, so a bad one stops the registry from loading instead of every page failing."""
    if key not in EXTRACTION_KEYS:
        return f"unknown key (known: {', '.join(sorted(EXTRACTION_KEYS))})"
    if key in ("drop", "drop_text"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return "expected a list of strings"
        values = value
    elif not isinstance(value, str) or not value:
        return "expected a CSS selector (a string)"
    else:
        values = [value]
    for item in values:
        if key == "drop_text":
            try:
                compile_pattern(item, re.I)
            except PatternError as exc:
                return str(exc)
            continue
        selector = _ATTR.sub("", item) if key not in ("body", "drop") else item
        why = _selector_problem(selector)
        if why:
            return f"invalid CSS selector {item!r}: {why}"
    return None


def _selector_problem(selector: str) -> str | None:
    from cssselect import SelectorError
    from lxml.cssselect import CSSSelector

    try:
        CSSSelector(selector, translator="html")
    except SelectorError as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None
