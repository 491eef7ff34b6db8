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

from monitor import archive, db, extraction, outbox, recorder
from monitor.items import Article, Page, PageFailure
from monitor.matching import TopicFile
from monitor.template import Template
from monitor.urls import clean_url
from monitor.workers import ExtractionTimeout, WorkerPool, worker_pool

logger = logging.getLogger(__name__)

CHROME_EVERY = 50  # pages: the template's whole chrome is recomputed this often
SAVE_EVERY = 200  # pages: the template is saved this often (and when the crawl ends)
# Last tries at storing what is left when the crawl ends (a lock may be about to go away).
FINAL_FLUSH_ATTEMPTS = 3


class ExtractPipeline:
    """Page -> Article (or PageFailure), in a pool of worker processes."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.workers = crawler.settings.getint("MONITOR_EXTRACT_WORKERS", 2)
        self.topics_path = crawler.settings.get("MONITOR_TOPICS")
        self.timeout = crawler.settings.getfloat("MONITOR_EXTRACT_TIMEOUT", 60.0)
        self.pool: WorkerPool | None = None
        self.template = Template()
        self.chrome: frozenset[int] = frozenset()
        self.learned = 0  # pages learned since the template was last saved

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        if self.workers > 0:
            self.pool = worker_pool(self.workers, self.topics_path, self.timeout)
        # The outlet's template as the last crawl left it (monitor/template.py).
        self.db = db.open_db(self.crawler.settings.get("MONITOR_DB"))
        self.template = Template.loads(db.load_template(self.db, self._outlet()))
        self.chrome = self.template.chrome()

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.release()
            self.pool = None
        self._save_template()

    def _outlet(self) -> str:
        return self.crawler.spider.outlet.slug

    def _learn(self, blocks: list[int]) -> None:
        new = self.template.observe(blocks)
        self.learned += 1
        if self.learned % CHROME_EVERY == 0:
            self.chrome = self.template.chrome()
        elif new:
            self.chrome = self.chrome | new
        if self.learned >= SAVE_EVERY:
            self._save_template()

    def _save_template(self) -> None:
        if not self.learned:
            return
        try:
            db.save_template(self.db, self._outlet(), self.template.pages, self.template.dumps())
        except sqlite3.Error as exc:  # the next save (or crawl) catches up
            logger.warning("cannot save the template of %s: %s", self._outlet(), exc)
            return
        self.learned = 0

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        spider = self.crawler.spider
        args = (item.body, item.url, item.content_type, spider.outlet.extraction, self.chrome)
        try:
            if self.pool is None:
                blocks: list[int] = []
                fields = extraction.extract(*args[:4], chrome=self.chrome, blocks=blocks)
                result = fields, None, None, blocks
            else:
                result = await self.pool.run(*args)
        except extraction.ExtractionError as exc:
            return PageFailure(item.url, item.status, str(exc), permanent=True)
        except ExtractionTimeout as exc:  # not tried again in this crawl; the next one may
            return PageFailure(item.url, item.status, str(exc))
        except Exception as exc:  # a bug or a pathological page: record it, keep crawling
            logger.exception("extraction failed on %s", item.url)
            return PageFailure(item.url, item.status, f"extraction error: {exc!r}"[:300])
        fields, stems, matches, blocks = result  # stems and matches: None if extracted here
        self._learn(blocks)
        canonical = clean_url(fields.pop("url") or item.url)
        if canonical != item.url and not spider.outlet.is_article(canonical):
            canonical = item.url  # a canonical link to a home or section page is a site bug
        # The sitemap lastmod belongs to the URL that was requested: the article's own only if
        # that is where it lives, else the redirect source's (tracked per URL, as an alias).
        requested = item.requested[0] if item.requested else item.url
        own = item.lastmod if requested == canonical else None
        lastmods = {} if requested == canonical else {requested: item.lastmod}
        fields.update(url=canonical, outlet=item.outlet, source="crawl")
        if own is not None:  # else the article keeps the lastmod it had
            fields["lastmod"] = own
        fields["extraction_version"] = extraction.EXTRACTION_VERSION
        return Article(
            fields=fields,
            aliases=[*item.requested, item.url],
            stems=stems,
            matches=matches,
            topics=self.pool.topics_fingerprint if self.pool is not None else None,
            lastmods=lastmods,
        )


class StorePipeline:
    """Article -> articles/versions/matches; PageFailure -> failures. Batched commits."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.path = crawler.settings.get("MONITOR_DB")
        self.interval = crawler.settings.getfloat("MONITOR_COMMIT_INTERVAL", 0.5)
        self.topics_path = crawler.settings.get("MONITOR_TOPICS")
        self.buffer: list[Any] = []
        self.topic_file = TopicFile(self.topics_path)  # loaded when first needed
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
        for _ in range(FINAL_FLUSH_ATTEMPTS):  # each waits up to MONITOR_BUSY_TIMEOUT
            self.flush()
            if not self.buffer:
                break
        if self.buffer:
            # The crawl is then `failed` and saves no validators, so the next one asks again.
            self.crawler.stats.set_value("monitor/unstored", len(self.buffer))
            logger.error("%d items could not be stored; see the errors above", len(self.buffer))

    def process_item(self, item: Any) -> Any:
        """Buffer the item for storage; pass on a clean record of an article for Scrapy's feed
        exports (-O, -o, FEEDS), and nothing for a failure (it is in `failures`)."""
        if not isinstance(item, Article | PageFailure):
            return item
        if isinstance(item, Article) and item.matches is None:
            # extracted in this process: match here (flush matches again if the file changes)
            item.topics = self.topic_file.current_fingerprint()
            item.matches = self._match(item.fields)
        self.buffer.append(item)
        if len(self.buffer) >= 200:
            self.flush()
        if isinstance(item, PageFailure):
            raise DropItem(f"failed: {item.url} ({item.reason})", log_level="DEBUG")
        return item.record()

    def _match(self, fields: dict[str, Any]) -> list[Any]:
        from monitor.matching import match  # only when the workers' matches will not do

        return match(self.topic_file.current(), fields)

    def flush(self) -> None:
        """Commit buffered items in one transaction; on a database error keep them for later."""
        if not self.buffer and not getattr(self.crawler, "monitor_captures", None):
            return
        items, stats = self.buffer, self.crawler.stats
        spider = self.crawler.spider
        counts: dict[str, int] = {}
        try:
            with db.writing(self.db):
                crawl_id = recorder.crawl_id(spider, self.db)  # inserted if the start could not
                archive.store_captures(self.db, self.crawler)
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
                        self.db, item.fields, item.aliases, stems=item.stems, lastmods=item.lastmods
                    )
                    counts[status] = counts.get(status, 0) + 1
                    archive.link_captures(self.db, article_id, [item.fields["url"], *item.aliases])
                    if status != "unchanged":
                        matches = item.matches
                        # Extracted in this process, or matched by workers with a topic file
                        # edited since (a rematch may be running): match here, with the file
                        # as it is while this transaction holds the write lock.
                        if matches is None or item.topics != self.topic_file.current_fingerprint():
                            matches = self._match(item.fields)
                        outbox.enqueue_new_matches(
                            self.db, article_id, matches, item.fields, self.topics_path
                        )
                        db.save_matches(self.db, article_id, matches)
        except sqlite3.Error as exc:
            logger.error("cannot write to %s: %s; will retry", self.path, exc)
            return
        spider.crawl_id = crawl_id
        self.buffer = []
        for key, value in counts.items():
            stats.inc_value(f"monitor/{key}", value)
