"""A page per topic for reading, not SQL: /topics/SLUG, its full exports, and its Atom feed.

/topics/SLUG lists the topic's matches newest first (undated articles last), PAGE_SIZE a page,
with filters for outlet, language, date range and minimum score, and each article's evidence
behind "why it matched". /topics/SLUG.csv, .json and .jsonl export every match with the same
filters, streamed in chunks (no row limit). An unknown topic answers 404 with the list of
topics; a slug in other letter case redirects to the topic.

/monitor/topic_feed.atom?topic=SLUG[&page=N][&size=N] is the topic's Atom feed, built by
monitor.feed (title and subtitle name the topic, entries carry `published` and `updated`, 200
entries a page with RFC 5005 paging links); an unknown topic answers 404 with the list of
topics, so a misspelled topic is not mistaken for a quiet one. Articles without a web address
(seed captures) link to their page here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import AsgiStream, Response

from monitor import export, feed, settings

DATABASE = "monitor"
PAGE_SIZE = 50
CHUNK = 500
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FEED_PATH = f"/{DATABASE}/topic_feed.atom"

_ROWS = """
select a.id, a.url, a.outlet, a.title, a.lead, a.published, a.fetched, m.matched, m.score,
  m.evidence
from matches m join articles a on a.id = m.article_id
where m.topic = :topic
order by m.matched desc, a.published is null, a.published desc, a.id desc
limit :size offset :offset
"""


@lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int) -> dict[str, dict[str, str]]:
    from monitor.topics import load_topics

    return {
        t.slug: {"name": t.name, "description": " ".join(t.description.split())}
        for t in load_topics(path)
    }


def _topic_names() -> dict[str, dict[str, str]]:
    """slug -> name and description from the topic file (empty when it cannot be read)."""
    path = Path(settings.MONITOR_TOPICS)
    try:
        return _read(str(path), path.stat().st_mtime_ns)
    except Exception:  # a broken topic file must not break the pages; the CLI reports it
        return {}


async def _topics(db) -> list[dict[str, Any]]:
    """Every topic (from the file and from the matches) with its name and match count."""
    names = _topic_names()
    counts = {
        row[0]: row[1]
        for row in (await db.execute("select topic, count(*) from matches group by topic")).rows
    }
    slugs = sorted(set(names) | set(counts), key=lambda s: names.get(s, {}).get("name") or s)
    return [
        {"slug": s, "name": names.get(s, {}).get("name") or s, "matches": counts.get(s, 0)}
        for s in slugs
    ]


def _filters(args) -> tuple[export.Filters, list[str]]:
    """The filters of the query string, and a message for each value that was not understood."""
    problems = []

    def day(name: str) -> str | None:
        value = (args.get(name) or "").strip()
        if value and not _DATE.match(value):
            problems.append(f"{name}: use a date such as 2022-01-05")
            return None
        return value or None

    score = (args.get("min_score") or "").strip()
    try:
        min_score = float(score) if score else None
    except ValueError:
        problems.append("minimum score: use a number such as 5")
        min_score = None
    lang = (args.get("lang") or "").strip() or None
    outlet = (args.get("outlet") or "").strip() or None
    found = export.Filters(
        since=day("since"), until=day("until"), outlet=outlet, lang=lang, min_score=min_score
    )
    return found, problems


def _query(filters: export.Filters, **extra: Any) -> str:
    values = {k: v for k, v in vars(filters).items() if v not in (None, "")}
    values.update({k: v for k, v in extra.items() if v not in (None, "")})
    return urlencode(values)


async def _not_found(datasette, request, db, slug: str) -> Response:
    topics = await _topics(db)
    html = await datasette.render_template(
        "topic.html", {"missing": slug, "topics": topics, "topic": None}, request=request
    )
    return Response.html(html, status=404)


async def topic_page(datasette, request) -> Response:
    db = datasette.get_database(DATABASE)
    slug = request.url_vars["slug"]
    topics = await _topics(db)
    by_slug = {t["slug"]: t for t in topics}
    if slug not in by_slug:
        folded = {t["slug"].lower(): t["slug"] for t in topics}.get(slug.lower())
        if folded:
            return Response.redirect(datasette.urls.path(f"/topics/{folded}"))
        return await _not_found(datasette, request, db, slug)
    filters, problems = _filters(request.args)
    try:
        page = max(1, int(request.args.get("page") or 1))
    except ValueError:
        page = 1
    params = filters.params(slug)

    def fetch(conn) -> tuple[int, list[dict[str, Any]], list[str]]:
        total = export.count(conn, slug, filters)
        found = list(export.rows(conn, slug, filters, (page - 1) * PAGE_SIZE, PAGE_SIZE))
        outlets = [r[0] for r in conn.execute("select distinct outlet from articles order by 1")]
        return total, found, outlets

    total, found, outlets = await db.execute_fn(fetch)
    urls = [r["url"] for r in found]
    marks = ",".join("?" * len(urls))
    extra = await db.execute(
        f"select a.url, a.id, m.evidence from articles a join matches m "
        f"on m.article_id = a.id and m.topic = ? where a.url in ({marks})",
        [slug, *urls],
    )
    by_url = {row["url"]: dict(row) for row in extra.rows}
    for row in found:
        row.update(id=by_url[row["url"]]["id"], evidence=by_url[row["url"]]["evidence"])
    pages = max(1, -(-total // PAGE_SIZE))
    base = datasette.urls.path(f"/topics/{slug}")
    context = {
        "topic": by_slug[slug],
        "description": _topic_names().get(slug, {}).get("description", ""),
        "topics": topics,
        "rows": found,
        "total": total,
        "page": page,
        "pages": pages,
        "filters": params,
        "problems": problems,
        "outlets": outlets,
        "base": base,
        "prev_url": f"{base}?{_query(filters, page=page - 1)}" if page > 1 else None,
        "next_url": f"{base}?{_query(filters, page=page + 1)}" if page < pages else None,
        "exports": {fmt: f"{base}.{fmt}?{_query(filters)}".rstrip("?") for fmt in CONTENT_TYPES},
        "feed_url": datasette.urls.path("/monitor/topic_feed.atom")
        + "?"
        + urlencode({"topic": slug}),
    }
    html = await datasette.render_template("topic.html", context, request=request)
    return Response.html(html)


async def topic_export(datasette, request):
    db = datasette.get_database(DATABASE)
    slug, fmt = request.url_vars["slug"], request.url_vars["format"]
    topics = {t["slug"] for t in await _topics(db)}
    if slug not in topics:
        listing = ", ".join(sorted(topics)) or "none yet"
        return Response.text(f"No such topic: {slug!r}. Topics: {listing}.\n", status=404)
    filters, problems = _filters(request.args)
    if problems:
        return Response.text("; ".join(problems) + "\n", status=400)

    async def stream(writer) -> None:
        encoder = export.Encoder(fmt)
        await writer.write(encoder.start())
        offset = 0
        while True:
            batch = await db.execute_fn(
                lambda conn, at=offset: list(export.rows(conn, slug, filters, at, CHUNK))
            )
            await writer.write("".join(encoder.record(r) for r in batch))
            offset += len(batch)
            if len(batch) < CHUNK:
                break
        await writer.write(encoder.end())

    headers = {"content-disposition": f'attachment; filename="{slug}.{fmt}"'}
    return AsgiStream(stream, headers=headers, content_type=CONTENT_TYPES[fmt])


async def topics_index(datasette, request) -> Response:
    db = datasette.get_database(DATABASE)
    html = await datasette.render_template(
        "topic.html", {"topic": None, "topics": await _topics(db)}, request=request
    )
    return Response.html(html)


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
    known = _topic_names()
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
    info = known.get(slug, {})
    name, description = info.get("name") or slug, info.get("description", "")
    body = feed.build(
        topic=slug,
        name=name,
        description=description,
        feed_url=f"{base}{FEED_PATH.lstrip('/')}?topic={slug}",
        home_url=f"{base}{DATABASE}/topic?topic={slug}",
        entries=entries,
        total=total,
        page=page,
        size=size,
    )
    return Response(body, content_type="application/atom+xml; charset=utf-8")


@hookimpl
def register_routes():
    return [
        ("^" + re.escape(FEED_PATH) + "$", topic_feed),
        (r"^/topics/?$", topics_index),
        (r"^/topics/(?P<slug>[^/.]+)\.(?P<format>csv|jsonl|json)$", topic_export),
        (r"^/topics/(?P<slug>[^/.]+)/?$", topic_page),
    ]
