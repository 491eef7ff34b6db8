"""Atom feeds of a topic's matches, paged as RFC 5005 describes.

A feed names its topic in the title and subtitle; each entry carries the article's publication
time (`published`) and when the monitor last matched or saw it change (`updated`), both with
their UTC offset (RFC 3339). A page holds PAGE_SIZE entries, newest match first, with `first`,
`previous`, `next` and `last` links, so a reader can go back through every match.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from feedgen.feed import FeedGenerator

from monitor import __version__

PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000


def rfc3339(value: str | None) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC if it has no offset); None if unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def why(evidence: str | None, most: int = 6) -> str:
    """The first `most` distinct terms of a match's evidence: why it matched, in one line."""
    try:
        items = json.loads(evidence or "[]")
    except ValueError:
        return ""
    terms: list[str] = []
    for item in items if isinstance(items, list) else []:
        term = item.get("term") if isinstance(item, dict) else None
        if term and term not in terms:
            terms.append(str(term))
    return "; ".join(terms[:most])


def page_url(base: str, page: int, size: int) -> str:
    """`base` (which may have a query already) for one page of `size` entries."""
    query = {"page": page} if page > 1 else {}
    if size != PAGE_SIZE:
        query["size"] = size
    if not query:
        return base
    return f"{base}{'&' if '?' in base else '?'}{urlencode(query)}"


def build(
    *,
    topic: str,
    name: str,
    description: str,
    feed_url: str,
    home_url: str,
    entries: Iterable[Mapping[str, Any]],
    total: int,
    page: int = 1,
    size: int = PAGE_SIZE,
) -> bytes:
    """The Atom document of one page of a topic's matches.

    `entries`: rows with url, link (where a reader goes: the article, or its page in the monitor
    when it has no web address), title, outlet, lead, published, matched, fetched, score,
    evidence. `feed_url` is the feed's own URL without paging parameters.
    """
    last = max(1, -(-total // size))
    feed = FeedGenerator()
    feed.generator(generator="monitor", version=__version__)
    feed.id(feed_url)
    feed.title(f"Monitor: {name}" if name else f"Monitor: {topic}")
    feed.subtitle(description or f"New articles matching the topic {topic}")
    feed.link(href=page_url(feed_url, page, size), rel="self")
    feed.link(href=home_url, rel="alternate")
    feed.link(href=page_url(feed_url, 1, size), rel="first")
    feed.link(href=page_url(feed_url, last, size), rel="last")
    if page > 1:
        feed.link(href=page_url(feed_url, min(page - 1, last), size), rel="previous")
    if page < last:
        feed.link(href=page_url(feed_url, page + 1, size), rel="next")
    newest = None
    for row in entries:
        updated = rfc3339(row.get("matched")) or rfc3339(row.get("fetched"))
        published = rfc3339(row.get("published"))
        entry = feed.add_entry(order="append")
        entry.id(row["url"])
        entry.title(f"[{row['outlet']}] {row.get('title') or row['url']}")
        entry.link(href=row["link"])
        entry.updated(updated or datetime.now(UTC))
        if published:
            entry.published(published)
        reason = why(row.get("evidence"))
        summary = (row.get("lead") or "").strip()
        score = row.get("score")
        footer = f"Topic: {name or topic} (score {score:g})" if score is not None else ""
        if reason:
            footer += f". Why: {reason}"
        entry.content("\n\n".join(p for p in (summary, footer) if p), type="text")
        newest = max(newest, updated) if newest and updated else (updated or newest)
    feed.updated(newest or datetime.now(UTC).replace(microsecond=0))
    return feed.atom_str(pretty=True)
