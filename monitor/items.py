"""What spiders and pipelines pass along: a fetched page, an extracted article, a failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Page:
    """An article page as downloaded, before extraction."""

    url: str
    body: bytes
    content_type: str | None
    outlet: str
    status: int = 200
    lastmod: str | None = None
    requested: list[str] = field(default_factory=list)  # every URL that led here


# The fields of the record that Scrapy's feed exports (-O, -o, FEEDS) write for each article.
RECORD_FIELDS = (
    "url",
    "outlet",
    "lang",
    "title",
    "lead",
    "text",
    "published",
    "modified",
    "author",
    "tags",
)


@dataclass
class Article:
    """An extracted article, ready to store."""

    fields: dict[str, Any]
    aliases: list[str] = field(default_factory=list)
    # Worked out by the extraction worker so the crawl process need not: the stemmed title,
    # lead and text for the search index, and the topic matches (None: not worked out yet).
    stems: tuple[str, str, str] | None = None
    matches: list[Any] | None = None
    topics: str | None = None  # fingerprint of the topic file the matches were worked out with
    # The sitemap lastmod of an alias URL that led here (a redirect source): its own, not the
    # article's.
    lastmods: dict[str, str | None] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What a feed export writes: the article's fields and the topics it matches."""
        found = {key: self.fields.get(key) for key in RECORD_FIELDS}
        found["tags"] = list(found["tags"] or [])
        found["topics"] = [{"topic": m.topic, "score": m.score} for m in self.matches or []]
        return found


@dataclass
class PageFailure:
    """A page that could not be stored, and why."""

    url: str
    status: int | None
    reason: str
    permanent: bool = False
