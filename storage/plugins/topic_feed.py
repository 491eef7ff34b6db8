"""The Atom feed of a topic: /monitor/topic_feed.atom?topic=SLUG[&page=N][&size=N].

The feed is built by monitor.feed (title and subtitle name the topic, entries carry `published`
and `updated`, 200 entries a page with RFC 5005 paging links). A topic that is neither in the
topic file nor in the matches answers 404 with the list of topics, so a misspelled topic is not
mistaken for a quiet one. Articles without a web address (seed captures) link to their page here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response

from monitor import feed, settings

DATABASE = "monitor"
PATH = f"/{DATABASE}/topic_feed.atom"

_ROWS = """
select a.id, a.url, a.outlet, a.title, a.lead, a.published, a.fetched, m.matched, m.score,
  m.evidence
from matches m join articles a on a.id = m.article_id
where m.topic = :topic
order by m.matched desc, a.published is null, a.published desc, a.id desc
limit :size offset :offset
"""


@lru_cache(maxsize=4)
def _topics(path: str, mtime_ns: int) -> dict[str, tuple[str, str]]:
    from monitor.topics import load_topics

    return {t.slug: (t.name, " ".join(t.description.split())) for t in load_topics(path)}


def topics_in_file() -> dict[str, tuple[str, str]]:
    """slug -> (name, description) of the topic file's topics; empty if it cannot be read."""
    path = Path(settings.MONITOR_TOPICS)
    try:
        return _topics(str(path), path.stat().st_mtime_ns)
    except Exception:  # a broken topic file must not break the feed; the CLI reports it
        return {}


def _int(value: str | None, default: int, low: int, high: int) -> int | None:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        return None
    return number if low <= number <= high else None


async def topic_feed(datasette, request) -> Response:
    db = datasette.get_database(DATABASE)
    slug = request.args.get("topic", "")
    known = topics_in_file()
    matched = [r[0] for r in (await db.execute("select distinct topic from matches")).rows]
    slugs = sorted(set(known) | set(matched))
    if slug not in slugs:
        listing = ", ".join(slugs) or "none yet"
        return Response.text(f"No such topic: {slug!r}. Topics: {listing}.\n", status=404)
    page = _int(request.args.get("page"), 1, 1, 1_000_000)
    size = _int(request.args.get("size"), feed.PAGE_SIZE, 1, feed.MAX_PAGE_SIZE)
    if page is None or size is None:
        return Response.text(
            f"page must be a whole number from 1, size from 1 to {feed.MAX_PAGE_SIZE}.\n",
            status=400,
        )
    total = (await db.execute("select count(*) from matches where topic = ?", [slug])).first()[0]
    rows = await db.execute(_ROWS, {"topic": slug, "size": size, "offset": (page - 1) * size})
    base = datasette.absolute_url(request, "/")
    entries: list[dict[str, Any]] = []
    for row in rows.rows:
        entry = dict(row)
        web = entry["url"].startswith(("http://", "https://"))
        entry["link"] = entry["url"] if web else f"{base}{DATABASE}/articles/{entry['id']}"
        entry["url"] = entry["link"]  # the entry's id: a seed capture's seed: name is no URL
        entries.append(entry)
    name, description = known.get(slug, (slug, ""))
    body = feed.build(
        topic=slug,
        name=name,
        description=description,
        feed_url=f"{base}{PATH.lstrip('/')}?topic={slug}",
        home_url=f"{base}{DATABASE}/topic?topic={slug}",
        entries=entries,
        total=total,
        page=page,
        size=size,
    )
    return Response(body, content_type="application/atom+xml; charset=utf-8")


@hookimpl
def register_routes():
    return [("^" + re.escape(PATH) + "$", topic_feed)]
