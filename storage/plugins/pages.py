"""Data for monitor's own pages: the home page (index.html) and the article page.

The article page (templates/row-monitor-articles.html) gets the article's paragraphs, its topic
matches with their evidence, and its earlier versions with what changed in each. The home page
gets the topics, the latest matches, and each outlet's articles and last crawl. Topic and outlet
names come from the seed files when they can be read; the pages work without them.
"""

from __future__ import annotations

import difflib
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from datasette import hookimpl
from datasette.utils import urlsafe_components

from monitor import settings

DATABASE = "monitor"
LATEST = 12
logger = logging.getLogger(__name__)


def paragraphs(text: str | None) -> list[str]:
    """The non-empty paragraphs (lines) of an article text."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def body(article: dict[str, Any]) -> list[str]:
    """The paragraphs of the text, without a first one that only repeats the lead."""
    found = paragraphs(article.get("text"))
    lead = " ".join((article.get("lead") or "").split())
    if found and lead and " ".join(found[0].split()) == lead:
        found = found[1:]
    return found


def tags(value: str | None) -> list[str]:
    """The tags of an article (stored as a JSON list)."""
    try:
        items = json.loads(value or "[]")
    except ValueError:
        return []
    return [str(item) for item in items] if isinstance(items, list) else []


def changes(older: dict[str, Any], newer: dict[str, Any]) -> dict[str, Any]:
    """What changed from one version of an article to the next: title, lead, paragraphs."""
    old, new = paragraphs(older.get("text")), paragraphs(newer.get("text"))
    removed, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed += old[i1:i2]
        if tag in ("replace", "insert"):
            added += new[j1:j2]
    return {
        "title": older.get("title") != newer.get("title"),
        "lead": older.get("lead") != newer.get("lead"),
        "removed": removed,
        "added": added,
    }


def _seed_file(name: str) -> Path | None:
    """A seed file named in monitor.settings (MONITOR_TOPICS, MONITOR_OUTLETS), if it exists."""
    value = getattr(settings, name, None)
    return Path(value) if value and Path(value).is_file() else None


@lru_cache(maxsize=8)
def _yaml(path: str, mtime_ns: int) -> Any:
    """A seed file's YAML, parsed once per version of the file."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _entries(name: str, key: str, fields: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """slug -> {field: text} for the entries of a seed file (empty if it cannot be read)."""
    path = _seed_file(name)
    if path is None:
        return {}
    try:
        data = _yaml(str(path), path.stat().st_mtime_ns)
        return {
            str(entry["slug"]): {f: str(entry.get(f) or "") for f in fields}
            for entry in data.get(key) or []
            if isinstance(entry, dict) and entry.get("slug")
        }
    except (OSError, AttributeError, TypeError, yaml.YAMLError) as exc:
        logger.warning("cannot read %s: %s", path, exc)
        return {}


def topic_names() -> dict[str, dict[str, str]]:
    """Topic slug -> {name, description} from seeds/topics.yml."""
    return _entries("MONITOR_TOPICS", "topics", ("name", "description"))


def outlet_names() -> dict[str, dict[str, str]]:
    """Outlet slug -> {name, base_url} from seeds/outlets.yml."""
    return _entries("MONITOR_OUTLETS", "outlets", ("name", "base_url"))


async def _rows(db, sql: str, params: Any = None) -> list[dict[str, Any]]:
    return [dict(row) for row in (await db.execute(sql, params or [])).rows]


async def article_page(db, article_id: str) -> dict[str, Any]:
    row = (await db.execute("select * from articles where id = ?", [article_id])).first()
    if row is None:
        return {}
    article = dict(row)
    versions = await _rows(
        db,
        "select id, fetched, title, lead, text, content_hash from versions "
        "where article_id = ? order by fetched desc, id desc",
        [article_id],
    )
    newer = article
    for version in versions:
        version["paragraphs"] = body(version)
        version["changes"] = changes(version, newer)
        newer = version
    matches = await _rows(
        db,
        "select topic, score, evidence, matched from matches where article_id = ? "
        "order by score desc",
        [article_id],
    )
    names = topic_names()
    for match in matches:
        match["name"] = names.get(match["topic"], {}).get("name", "")
    return {
        "article": article,
        "paragraphs": body(article),
        "tags": tags(article.get("tags")),
        "versions": versions,
        "topic_matches": matches,
        "outlet_name": outlet_names().get(article.get("outlet") or "", {}).get("name", ""),
    }


async def home_page(db) -> dict[str, Any]:
    names = topic_names()
    topics = await _rows(
        db,
        """
        select m.topic, count(*) as matches,
          sum(julianday(coalesce(a.published, m.matched)) >= julianday('now', '-7 days')) as week,
          max(m.matched) as latest_matched
        from matches m join articles a on a.id = m.article_id
        group by m.topic order by latest_matched desc
        """,
    )
    seen = {t["topic"] for t in topics}
    topics += [
        {"topic": slug, "matches": 0, "week": 0, "latest_matched": None}
        for slug in names
        if slug not in seen
    ]
    for topic in topics:
        topic.update(names.get(topic["topic"], {"name": "", "description": ""}))
    latest = await _rows(
        db,
        """
        select a.id as article_id, a.title, a.outlet, a.lang, a.published, m.topic, m.score
        from matches m join articles a on a.id = m.article_id
        order by a.published is null, a.published desc, m.score desc limit ?
        """,
        [LATEST],
    )
    outlets = await _rows(
        db,
        """
        with names as (select outlet from articles union select outlet from crawls)
        select n.outlet,
          (select count(*) from articles a where a.outlet = n.outlet) as articles,
          (select max(published) from articles a where a.outlet = n.outlet) as latest_published,
          (select status from crawls c where c.outlet = n.outlet order by id desc limit 1)
            as status,
          (select started from crawls c where c.outlet = n.outlet order by id desc limit 1)
            as started
        from names n where n.outlet is not null order by n.outlet
        """,
    )
    registry = outlet_names()
    for outlet in outlets:
        outlet.update(registry.get(outlet["outlet"] or "", {"name": "", "base_url": ""}))
    await _add_health(db, outlets)
    totals = dict(
        (
            await db.execute(
                "select (select count(*) from articles) as articles, "
                "(select count(*) from matches) as matches, "
                "(select count(*) from crawls) as crawls"
            )
        ).first()
    )
    return {"topics": topics, "latest": latest, "outlets": outlets, "totals": totals}


async def _add_health(db, outlets: list[dict[str, Any]]) -> None:
    """Each outlet's health (monitor health) and its last crawl's id, for the failures link."""
    if not await db.table_exists("outlet_health"):
        return
    rows = await _rows(
        db,
        "select h.outlet, h.state as health, h.reason as health_reason, "
        "(select max(id) from crawls c where c.outlet = h.outlet) as last_crawl "
        "from outlet_health h",
    )
    health = {row.pop("outlet"): row for row in rows}
    for outlet in outlets:
        outlet.update(health.get(outlet["outlet"], {}))


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    if DATABASE not in datasette.databases:
        return {}
    db = datasette.get_database(DATABASE)
    if view_name == "index":

        async def home() -> dict[str, Any]:
            return {"monitor": await home_page(db)}

        return home
    if view_name == "row" and database == DATABASE and table == "articles" and request:

        async def article() -> dict[str, Any]:
            pks = urlsafe_components(request.url_vars["pks"])
            return {"monitor": await article_page(db, pks[0])} if len(pks) == 1 else {}

        return article
    return {}
