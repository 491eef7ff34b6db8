"""The crawl record: one `crawls` row per run, written by the crawl itself.

So scheduled runs and manual `scrapy crawl` runs alike appear in `crawls`, with their outcome
(ok, failed, timed out, stopped) and counts of requests, new, updated and failed pages.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals

from monitor import dates, db

logger = logging.getLogger(__name__)

STATUS_BY_REASON = {
    "finished": "ok",
    "closespider_timeout": "timed out",
    "shutdown": "stopped",
}


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
        outlet = getattr(getattr(spider, "outlet", None), "slug", spider.name)
        spider.crawl_id = db.start_crawl(self.db, outlet)

    def closed(self, spider: Any, reason: str) -> None:
        stats = self.crawler.stats
        status = STATUS_BY_REASON.get(reason, "failed")
        if status == "ok" and not stats.get_value("monitor/discovery_ok"):
            status = "failed"  # no feed, sitemap or listing answered: the site is down or gone
        counts = {
            "requests": stats.get_value("downloader/request_count", 0),
            "new": stats.get_value("monitor/new", 0),
            "updated": stats.get_value("monitor/updated", 0),
            "failed": stats.get_value("monitor/failed", 0),
        }
        db.finish_crawl(self.db, spider.crawl_id, status, **counts)
        forbidden = stats.get_value("monitor/robots_forbidden", 0)
        if forbidden:  # for outlet health: robots.txt starting to forbid us
            db.note_robots_forbidden(self.db, spider.crawl_id, forbidden)
        if status == "ok":
            retry = getattr(spider, "retry_sources", set())
            for url, (etag, modified) in getattr(spider, "validators", {}).items():
                if url in retry:
                    continue
                db.save_fetch_state(self.db, url, etag, modified, dates.iso(spider.since))
        spider.crawl_status = status
        logger.info(
            "crawl %s of %s: %s; %d requests, %d new, %d updated, %d failed",
            spider.crawl_id,
            getattr(getattr(spider, "outlet", None), "slug", spider.name),
            status,
            *counts.values(),
        )
