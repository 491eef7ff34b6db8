"""The crawl record: one `crawls` row per run, written by the crawl itself.

So scheduled runs and manual `scrapy crawl` runs alike appear in `crawls`, with their outcome
(ok, failed, timed out, stopped) and counts of requests, new, updated and failed pages. The row
is written even when the database is locked by another process when the crawl starts: it is
then inserted with the first stored items or at the end, which tries again a few times.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from scrapy import signals

from monitor import dates, db, processes

logger = logging.getLogger(__name__)

STATUS_BY_REASON = {
    "finished": "ok",
    "closespider_timeout": "timed out",
    "shutdown": "stopped",
}
# Attempts at writing the record at the end, each waiting up to MONITOR_BUSY_TIMEOUT.
RECORD_ATTEMPTS = 3


def outlet_of(spider: Any) -> str:
    return getattr(getattr(spider, "outlet", None), "slug", spider.name)


def crawl_id(spider: Any, database: Any) -> int | None:
    """The spider's `crawls` row id, inserting the row if the start could not write it (the
    database was locked). Call inside a write transaction; the id is kept by the spider only
    once that transaction commits (see keep_crawl_id)."""
    if getattr(spider, "crawl_id", None) is not None or not hasattr(spider, "crawl_started"):
        return getattr(spider, "crawl_id", None)
    return db.start_crawl(database, outlet_of(spider), started=spider.crawl_started)


class CrawlRecorder:
    def __init__(self, crawler: Any):
        self.crawler = crawler
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlRecorder:
        return cls(crawler)

    def opened(self, spider: Any) -> None:
        self.db = db.open_db(self.crawler.settings.get("MONITOR_DB"))
        processes.reap(self.db)  # runs of this or any outlet killed before they could record
        spider.crawl_started = db.now()
        spider.crawl_id = None
        try:
            spider.crawl_id = db.start_crawl(
                self.db, outlet_of(spider), started=spider.crawl_started
            )
        except sqlite3.OperationalError as exc:
            logger.warning(
                "cannot record the start of the crawl yet (%s); it is recorded with the first "
                "stored items or at the end",
                exc,
            )

    def closed(self, spider: Any, reason: str) -> None:
        stats = self.crawler.stats
        status = STATUS_BY_REASON.get(reason, "failed")
        if status == "ok" and not stats.get_value("monitor/discovery_ok"):
            status = "failed"  # no feed, sitemap or listing answered: the site is down or gone
        if stats.get_value("monitor/unstored"):
            status = "failed"  # items lost (disk full, database locked throughout)
        counts = {
            "requests": stats.get_value("downloader/request_count", 0),
            "new": stats.get_value("monitor/new", 0),
            "updated": stats.get_value("monitor/updated", 0),
            "failed": stats.get_value("monitor/failed", 0),
        }
        if not self._record(spider, status, counts):
            status = "failed"
        spider.crawl_status = status
        logger.info(
            "crawl %s of %s: %s; %d requests, %d new, %d updated, %d failed",
            spider.crawl_id,
            outlet_of(spider),
            status,
            *counts.values(),
        )

    def _record(self, spider: Any, status: str, counts: dict[str, int]) -> bool:
        """Write the outcome, and the validators of the discovery pages when every article
        they led to was stored or recorded (status ok); True if it was written."""
        error: Exception | None = None
        for _ in range(RECORD_ATTEMPTS):
            try:
                with db.writing(self.db):
                    row_id = crawl_id(spider, self.db)
                    db.finish_crawl(self.db, row_id, status, **counts)
                    forbidden = self.crawler.stats.get_value("monitor/robots_forbidden", 0)
                    if forbidden:  # for outlet health: robots.txt starting to forbid us
                        db.note_robots_forbidden(self.db, row_id, forbidden)
                    if status == "ok":
                        retry = getattr(spider, "retry_sources", set())
                        for url, (etag, modified) in getattr(spider, "validators", {}).items():
                            if url not in retry:
                                db.save_fetch_state(
                                    self.db, url, etag, modified, dates.iso(spider.since)
                                )
                spider.crawl_id = row_id
                return True
            except sqlite3.OperationalError as exc:
                error = exc
                logger.warning("cannot write the crawl record: %s; trying again", exc)
        logger.error(
            "the crawl record of %s could not be written: %s",
            outlet_of(spider),
            db.describe_error(error, self.crawler.settings.get("MONITOR_DB")),
        )
        return False
