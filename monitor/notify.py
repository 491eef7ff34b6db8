"""Notification destinations: where alerts go, what they say, and delivering one with Apprise.

A topic names its destinations (`notify: [newsroom]` in seeds/topics.yml); the addresses are
Apprise URLs (json://, mailto://, tgram://, slack://, ntfy://, ...) kept outside the topic file,
because they hold tokens and passwords: in the notification config (`notify.yml` beside the
database, git-ignored; MONITOR_NOTIFY_CONFIG names another file) or in environment variables
(MONITOR_NOTIFY_NEWSROOM=json://...). Only destination names reach the database.

    destinations:
      newsroom:
        urls: ["mailto://bot:secret@mail.example.org?to=desk@example.org"]
        digest: hourly          # or "daily 08:00" (Almaty time); default: one message per match
      ops: "tgram://TOKEN/CHAT"   # a single URL is enough
    health: [ops]               # where outlet health changes go (default: every destination)
    max_per_minute: 10          # messages per destination per minute, then they wait
    burst: 20                   # more pending matches than this are sent as one summary

The queue and the sending loop are in monitor/outbox.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from monitor import dates
from monitor.errors import MonitorError

logger = logging.getLogger(__name__)

ENV_PREFIX = "MONITOR_NOTIFY_"
CONFIG_ENV = "MONITOR_NOTIFY_CONFIG"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DAILY = re.compile(r"^daily(?:\s+(\d{1,2}):(\d{2}))?$")


@dataclass(frozen=True)
class Destination:
    """A named destination: its Apprise URLs and how matches reach it."""

    name: str
    urls: tuple[str, ...]
    digest: str | None = None  # None (each match), "hourly" or "daily"
    at: time = time(8, 0)  # the time of a daily digest, Almaty time

    def describe(self) -> str:
        if self.digest == "daily":
            return f"daily digest at {self.at:%H:%M}"
        return "hourly digest" if self.digest == "hourly" else "one message per match"


@dataclass
class Config:
    """The notification config: destinations by name and the sending limits."""

    destinations: dict[str, Destination] = field(default_factory=dict)
    health: list[str] | None = None  # None: every destination
    max_per_minute: int = 10
    burst: int = 20
    retry_base: float = 60.0  # seconds before the first retry; doubled each time
    max_attempts: int = 8

    def health_destinations(self) -> list[str]:
        return list(self.destinations) if self.health is None else list(self.health)


def config_path(db_path: str | os.PathLike[str]) -> Path:
    """The notification config: MONITOR_NOTIFY_CONFIG, else notify.yml beside the database."""
    named = os.environ.get(CONFIG_ENV)
    return Path(named) if named else Path(db_path).parent / "notify.yml"


def load_config(path: str | os.PathLike[str], env: dict[str, str] | None = None) -> Config:
    """Read the notification config (a missing file is an empty one) and the environment.

    Raises MonitorError naming the file and key when the file is malformed.
    """
    path = Path(path)
    env = os.environ if env is None else env
    raw: Any = {}
    if path.exists():
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError) as exc:
            raise MonitorError(f"{path}: cannot read: {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise MonitorError(
                f"{path}: not valid YAML ({where}{problem}); put URLs in quotes"
            ) from None
    if not isinstance(raw, dict):
        raise MonitorError(f"{path}: expected a mapping with a 'destinations' key")
    unknown = set(raw) - {"destinations", "health", "max_per_minute", "burst", "retry"}
    if unknown:
        raise MonitorError(f"{path}: unknown key '{sorted(unknown)[0]}'")
    config = Config()
    entries = raw.get("destinations") or {}
    if not isinstance(entries, dict):
        raise MonitorError(f"{path}: 'destinations' must map names to Apprise URLs")
    for name, entry in entries.items():
        config.destinations[str(name)] = _destination(path, str(name), entry)
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV or key.endswith("_DIGEST"):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        entry = {"urls": [u for u in re.split(r"[\s,]+", value) if u]}
        if env.get(f"{key}_DIGEST"):
            entry["digest"] = env[f"{key}_DIGEST"]
        config.destinations[name] = _destination(Path(f"${key}"), name, entry)
    if "health" in raw:
        health = raw["health"]
        if isinstance(health, str):
            health = [health]
        if not isinstance(health, list) or not all(isinstance(h, str) for h in health):
            raise MonitorError(f"{path}: 'health' must be a list of destination names")
        config.health = health
    for key in ("max_per_minute", "burst"):
        if key in raw:
            value = raw[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise MonitorError(f"{path}: '{key}' must be a whole number of at least 1")
            setattr(config, key, value)
    retry = raw.get("retry") or {}
    if not isinstance(retry, dict) or set(retry) - {"base", "attempts"}:
        raise MonitorError(f"{path}: 'retry' takes 'base' (seconds) and 'attempts'")
    if "base" in retry:
        config.retry_base = float(retry["base"])
    if "attempts" in retry:
        config.max_attempts = int(retry["attempts"])
    return config


def _destination(path: Path, name: str, entry: Any) -> Destination:
    where = f"{path}: destination '{name}'"
    if not _NAME.match(name):
        raise MonitorError(f"{where}: a name is lower-case letters, digits, '-' and '_'")
    if isinstance(entry, str | list):
        entry = {"urls": entry}
    if not isinstance(entry, dict):
        raise MonitorError(f"{where}: expected an Apprise URL, a list of them, or a mapping")
    unknown = set(entry) - {"urls", "url", "digest"}
    if unknown:
        raise MonitorError(f"{where}: unknown key '{sorted(unknown)[0]}'")
    urls = entry.get("urls", entry.get("url"))
    if isinstance(urls, str):
        urls = [urls]
    if not urls or not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise MonitorError(f"{where}: 'urls' must be one or more Apprise URLs")
    for url in urls:
        if "://" not in url:
            raise MonitorError(f"{where}: {redact(url, urls)!r} is not an Apprise URL")
    digest, at = entry.get("digest"), time(8, 0)
    if digest in (None, False, "none", "each"):
        digest = None
    elif digest == "hourly":
        pass
    else:
        found = _DAILY.match(str(digest).strip())
        if not found:
            raise MonitorError(f"{where}: digest is 'hourly', 'daily' or 'daily HH:MM'")
        if found[1]:
            if int(found[1]) > 23 or int(found[2]) > 59:
                raise MonitorError(f"{where}: digest time {digest!r} is not a time of day")
            at = time(int(found[1]), int(found[2]))
        digest = "daily"
    return Destination(name=name, urls=tuple(urls), digest=digest, at=at)


def topic_routes(
    topics_path: str | os.PathLike[str] | None,
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Per topic slug, the destination names of its optional `notify` key in the topic file;
    and per slug, the topic's name (for the messages).

    Read here rather than by the topic loader, which checks everything else in the file; cached
    while the file is unchanged.
    """
    if not topics_path:
        return {}, {}
    path = Path(topics_path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return {}, {}
    cached = _TOPIC_CACHE.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1], cached[2]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}, {}  # the topic loader reports a broken file
    topics = raw.get("topics") if isinstance(raw, dict) else None
    routes: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for topic in topics if isinstance(topics, list) else []:
        if not isinstance(topic, dict):
            continue
        slug = str(topic.get("slug"))
        names[slug] = str(topic.get("name") or slug)
        wanted = topic.get("notify")
        wanted = [wanted] if isinstance(wanted, str) else wanted
        if isinstance(wanted, list) and wanted:
            routes[slug] = [str(n) for n in wanted]
    _TOPIC_CACHE[str(path)] = (stamp, routes, names)
    return routes, names


_TOPIC_CACHE: dict[str, tuple[int, dict[str, list[str]], dict[str, str]]] = {}


# -- messages ------------------------------------------------------------------------------


def strongest(evidence: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The piece of evidence that weighed most (the first of equals)."""
    best = None
    for item in evidence or []:
        if best is None or (item.get("weight") or 0) > (best.get("weight") or 0):
            best = item
    return best


def match_payload(
    article: dict[str, Any], topic: str, topic_name: str, evidence: list[dict[str, Any]]
) -> dict[str, Any]:
    """What a match message says, as stored with the message in the outbox."""
    best = strongest(evidence) or {}
    return {
        "topic": topic,
        "topic_name": topic_name,
        "title": article.get("title") or "(no title)",
        "outlet": article.get("outlet"),
        "published": article.get("published"),
        "url": article.get("url"),
        "lang": article.get("lang"),
        "snippet": best.get("snippet"),
        "evidence_field": best.get("field"),
        "evidence_rule": best.get("rule"),
    }


def format_match(p: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of the message for one new match."""
    title = f"[{p['topic']}] {p['title']}"
    lines = [
        p["title"],
        f"Outlet: {p['outlet']} · Published: {_when(p.get('published'))} · "
        f"Language: {p.get('lang') or '?'}",
        f"Link: {p['url']}",
    ]
    if p.get("snippet"):
        lines.append(f"Evidence ({p.get('evidence_field') or 'text'}): «{p['snippet']}»")
    lines.append(f"Topic: {p['topic_name']} ({p['topic']})")
    return title, "\n".join(lines)


def format_digest(payloads: list[dict[str, Any]], label: str) -> tuple[str, str]:
    """(title, body) of a digest of several matches, grouped by topic."""
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for p in payloads:
        by_topic.setdefault(p["topic"], []).append(p)
    n = len(payloads)
    title = f"{label}: {n} new match{'es' if n != 1 else ''}"
    lines = []
    for topic, items in by_topic.items():
        lines.append(f"{items[0]['topic_name']} ({topic}): {len(items)}")
        for p in items:
            lines.append(f"- {p['title']} ({p['outlet']}, {_when(p.get('published'))})")
            lines.append(f"  {p['url']}")
        lines.append("")
    return title, "\n".join(lines).rstrip()


def format_summary(payloads: list[dict[str, Any]], shown: int = 10) -> tuple[str, str]:
    """(title, body) of the one message that stands for a burst of matches (a backfill)."""
    n = len(payloads)
    counts: dict[tuple[str, str], int] = {}
    for p in payloads:
        key = (p["topic_name"], p["topic"])
        counts[key] = counts.get(key, 0) + 1
    outlets: dict[str, int] = {}
    for p in payloads:
        outlets[p["outlet"]] = outlets.get(p["outlet"], 0) + 1
    title = f"{n:,} new matches at once (summarised)"
    lines = [
        f"{n:,} new matches arrived together (a backfill or a first crawl); "
        "they are summarised here instead of sent one by one.",
        "",
        *(f"{name} ({slug}): {c:,}" for (name, slug), c in counts.items()),
        "By outlet: " + ", ".join(f"{o} {c:,}" for o, c in sorted(outlets.items())),
        "",
        f"Latest {min(shown, n)}:",
    ]
    latest = sorted(payloads, key=lambda p: p.get("published") or "", reverse=True)[:shown]
    for p in latest:
        lines.append(f"- {p['title']} ({p['outlet']}, {_when(p.get('published'))})")
        lines.append(f"  {p['url']}")
    return title, "\n".join(lines)


def format_health(outlet: str, state: str, reason: str, previous: str | None) -> tuple[str, str]:
    """(title, body) of an outlet health change."""
    if state == "healthy":
        title = f"[health] {outlet} recovered"
        body = f"{outlet} is healthy again: {reason}"
        if previous:
            body += f"\n(it was {previous})"
    else:
        title = f"[health] {outlet} is {state}"
        body = f"{outlet} is {state}: {reason}"
    return title, body


def _when(value: str | None) -> str:
    dt = dates.parse_datetime(value) if value else None
    return dt.strftime("%Y-%m-%d %H:%M %z") if dt else "date unknown"


# -- delivery ------------------------------------------------------------------------------


def deliver(urls: tuple[str, ...] | list[str], title: str, body: str) -> tuple[bool, str]:
    """Send one message to every URL of a destination with Apprise.

    Returns (True, "") when every URL accepted it, else (False, reason), the reason without
    passwords or tokens of the URLs.
    """
    import apprise

    app = apprise.Apprise()
    for url in urls:
        if not app.add(url):
            return False, f"not a usable Apprise URL: {redact(url, urls)}"
    with apprise.LogCapture(level=logging.DEBUG, fmt="%(levelname)s %(message)s") as captured:
        try:
            ok = app.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        except Exception as exc:  # an Apprise plugin that raises instead of returning False
            ok, captured_text = False, f"{type(exc).__name__}: {exc}"
        else:
            captured_text = captured.getvalue()
    if ok:
        return True, ""
    lines = [
        ln.split(" ", 1)[1].strip()
        for ln in captured_text.splitlines()
        if ln.startswith(("WARNING", "ERROR", "CRITICAL")) or "Exception" in ln
    ]
    reason = "; ".join(dict.fromkeys(lines))[:400] or "not delivered (no reason given)"
    return False, redact(reason, urls)


def redact(text: str, urls: tuple[str, ...] | list[str]) -> str:
    """`text` without the secrets of `urls`: their passwords, users, and token-like paths."""
    secrets: set[str] = set()
    for url in urls:
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        for value in (parts.password, parts.username):
            if value:
                secrets.update({value, unquote(value)})
        for piece in re.split(r"[/?&=@:]", parts.netloc + parts.path):
            if len(piece) >= 16 and re.search(r"\d", piece) and re.search(r"[A-Za-z]", piece):
                secrets.add(piece)  # a bot token, a webhook key
        secrets.add(url)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def digest_boundary(dest: Destination, now: datetime) -> datetime:
    """The latest digest time of `dest` at or before `now` (Almaty time)."""
    local = now.astimezone(dates.ALMATY)
    if dest.digest == "hourly":
        return local.replace(minute=0, second=0, microsecond=0)
    today = local.replace(hour=dest.at.hour, minute=dest.at.minute, second=0, microsecond=0)
    return today if today <= local else today - timedelta(days=1)


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)
