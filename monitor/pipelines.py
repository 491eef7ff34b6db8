"""Item pipelines: extract each fetched page, then store articles and failures.

Extraction is CPU-bound (trafilatura), so it runs in worker processes (monitor/workers.py) and
the Scrapy reactor keeps downloading meanwhile; the workers also stem the article for the search
index and match it against the topics, so the crawl process is left with downloading and
writing. Storing is
batched: items are committed at least every MONITOR_COMMIT_INTERVAL seconds, so a crawl killed
half way keeps what it had stored.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from scrapy.exceptions import DropItem
from twisted.internet import task

from monitor import db, extraction
from monitor.items import Article, Page, PageFailure
from monitor.urls import clean_url
from monitor.workers import WorkerPool, worker_pool

logger = logging.getLogger(__name__)


class ExtractPipeline:
    """Page -> Article (or PageFailure), in a pool of worker processes."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.workers = crawler.settings.getint("MONITOR_EXTRACT_WORKERS", 2)
        self.topics_path = crawler.settings.get("MONITOR_TOPICS")
        self.pool: WorkerPool | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        if self.workers > 0:
            self.pool = worker_pool(self.workers, self.topics_path)

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.release()
            self.pool = None

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        spider = self.crawler.spider
        args = (item.body, item.url, item.content_type, spider.outlet.extraction)
        try:
            if self.pool is None:
                result = extraction.extract(*args), None, None
            else:
                result = await self.pool.run(*args)
        except extraction.ExtractionError as exc:
            return PageFailure(item.url, item.status, str(exc), permanent=True)
        except Exception as exc:  # a bug or a pathological page: record it, keep crawling
            logger.exception("extraction failed on %s", item.url)
            return PageFailure(item.url, item.status, f"extraction error: {exc!r}"[:300])
        fields, stems, matches = result  # stems and matches are None if extracted here
        canonical = clean_url(fields.pop("url") or item.url)
        if canonical != item.url and not spider.outlet.is_article(canonical):
            canonical = item.url  # a canonical link to a home or section page is a site bug
        fields.update(url=canonical, outlet=item.outlet, lastmod=item.lastmod, source="crawl")
        return Article(
            fields=fields, aliases=[*item.requested, item.url], stems=stems, matches=matches
        )


class StorePipeline:
    """Article -> articles/versions/matches; PageFailure -> failures. Batched commits."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.path = crawler.settings.get("MONITOR_DB")
        self.interval = crawler.settings.getfloat("MONITOR_COMMIT_INTERVAL", 0.5)
        self.topics_path = crawler.settings.get("MONITOR_TOPICS")
        self.buffer: list[Any] = []
        self.topics: list[Any] | None = None  # loaded when first needed
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.db = db.open_db(self.path)
        self.loop = task.LoopingCall(self.flush)
        self.loop.start(self.interval, now=False)

    def close_spider(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.flush()
        if self.buffer:
            logger.error("%d items could not be stored; see the errors above", len(self.buffer))

    def process_item(self, item: Any) -> Any:
        """Buffer the item for storage; pass on a clean record of an article for Scrapy's feed
        exports (-O, -o, FEEDS), and nothing for a failure (it is in `failures`)."""
        if not isinstance(item, Article | PageFailure):
            return item
        if isinstance(item, Article) and item.matches is None:
            item.matches = self._match(item.fields)  # extracted in this process: match here
        self.buffer.append(item)
        if len(self.buffer) >= 200:
            self.flush()
        if isinstance(item, PageFailure):
            raise DropItem(f"failed: {item.url} ({item.reason})", log_level="DEBUG")
        return item.record()

    def _match(self, fields: dict[str, Any]) -> list[Any]:
        from monitor.matching import load_topics, match  # only when extracting in-process

        if self.topics is None:
            self.topics = load_topics(self.topics_path)
        return match(self.topics, fields)

    def flush(self) -> None:
        """Commit buffered items in one transaction; on a database error keep them for later."""
        if not self.buffer:
            return
        items, stats = self.buffer, self.crawler.stats
        crawl_id = getattr(self.crawler.spider, "crawl_id", None)
        counts: dict[str, int] = {}
        try:
            with db.writing(self.db):
                for item in items:
                    if isinstance(item, PageFailure):
                        db.save_failure(
                            self.db,
                            crawl_id=crawl_id,
                            url=item.url,
                            status=item.status,
                            reason=item.reason,
                            permanent=item.permanent,
                        )
                        logger.info("failed: %s (%s)", item.url, item.reason)
                        counts["failed"] = counts.get("failed", 0) + 1
                        continue
                    status, article_id = db.save_article(
                        self.db, item.fields, item.aliases, stems=item.stems
                    )
                    counts[status] = counts.get(status, 0) + 1
                    if status != "unchanged":
                        db.save_matches(self.db, article_id, item.matches or [])
        except sqlite3.Error as exc:
            logger.error("cannot write to %s: %s; will retry", self.path, exc)
            return
        self.buffer = []
        for key, value in counts.items():
            stats.inc_value(f"monitor/{key}", value)
