"""Item pipelines: extract each fetched page, then store articles and failures.

Extraction is CPU-bound (trafilatura), so it runs in worker processes and the Scrapy reactor
keeps downloading meanwhile; the workers also stem the article for the search index and match it
against the topics, so the crawl process is left with downloading and writing. The pool starts
with the first page to extract: a crawl that finds nothing new starts no worker. Storing is
batched: items are committed at least every MONITOR_COMMIT_INTERVAL seconds, so a crawl killed
half way keeps what it had stored.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sqlite3
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from twisted.internet import task

from monitor import db, extraction
from monitor.items import Article, Page, PageFailure
from monitor.matching import load_topics, match
from monitor.urls import clean_url

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
_worker_topics: list[Any] = []  # the topics, in a worker process


def _warm_up(topics_path: str | None = None, crawl_pid: int | None = None) -> None:
    """Import trafilatura's heavy parts and load the topics once per worker, not per page.

    A worker also ends when its crawl does, however the crawl ends (a SIGKILL included), so no
    orphaned worker lives on holding memory.
    """
    _die_with(crawl_pid)
    import trafilatura  # noqa: F401

    _worker_topics[:] = load_topics(topics_path)


def _die_with(parent: int | None) -> None:
    """End this process when `parent` ends: the kernel's parent-death signal on Linux."""
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the crawl died before the signal was armed
        os._exit(1)


def extract_and_index(
    body: bytes, url: str, content_type: str | None, profile: Any
) -> tuple[dict[str, Any], tuple[str, str, str], list[Any]]:
    """extraction.extract(), plus the stems for the search index and the topic matches."""
    from monitor.text import stem_text

    fields = extraction.extract(body, url, content_type, profile)
    stems = tuple(stem_text(fields.get(key) or "") for key in ("title", "lead", "text"))
    return fields, stems, match(_worker_topics, fields)


class ExtractPipeline:
    """Page -> Article (or PageFailure), in a pool of worker processes."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.workers = crawler.settings.getint("MONITOR_EXTRACT_WORKERS", 2)
        self.topics_path = crawler.settings.get("MONITOR_TOPICS")
        self.pool: ProcessPoolExecutor | None = None  # started with the first page to extract

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        return cls(crawler)

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            # spawn: the workers are children of the crawl itself (not of a forkserver that
            # outlives it), start clean without the reactor's threads, and die with it.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_up,
            initargs=(self.topics_path, os.getpid()),
        )

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        spider = self.crawler.spider
        args = (item.body, item.url, item.content_type, spider.outlet.extraction)
        try:
            result = await self._extract(args)
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

    async def _extract(self, args: tuple) -> tuple[dict[str, Any], Any, Any]:
        if self.workers <= 0:
            return extraction.extract(*args), None, None
        if self.pool is None:
            self.pool = self._new_pool()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.pool, extract_and_index, *args)
        except BrokenProcessPool:
            # A worker died (out of memory, a crash in C code): replace the pool, retry once.
            logger.warning("an extraction worker died; restarting the pool")
            self.pool.shutdown(wait=False, cancel_futures=False)
            self.pool = self._new_pool()
            return await loop.run_in_executor(self.pool, extract_and_index, *args)


class StorePipeline:
    """Article -> articles/versions/matches; PageFailure -> failures. Batched commits."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.path = crawler.settings.get("MONITOR_DB")
        self.interval = crawler.settings.getfloat("MONITOR_COMMIT_INTERVAL", 0.5)
        self.topics_path = crawler.settings.get("MONITOR_TOPICS")
        self.buffer: list[Any] = []
        self.topics: list[Any] = []
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.db = db.open_db(self.path)
        self.topics = load_topics(self.topics_path)
        self.loop = task.LoopingCall(self.flush)
        self.loop.start(self.interval, now=False)

    def close_spider(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.flush()
        if self.buffer:
            logger.error("%d items could not be stored; see the errors above", len(self.buffer))

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article | PageFailure):
            self.buffer.append(item)
            if len(self.buffer) >= 200:
                self.flush()
        return item

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
                        matches = item.matches
                        if matches is None:
                            matches = match(self.topics, item.fields)
                        db.save_matches(self.db, article_id, matches)
        except sqlite3.Error as exc:
            logger.error("cannot write to %s: %s; will retry", self.path, exc)
            return
        self.buffer = []
        for key, value in counts.items():
            stats.inc_value(f"monitor/{key}", value)
