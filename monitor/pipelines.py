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

    from monitor.matching import load_topics

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
    from monitor.matching import match
    from monitor.text import stem_text

    fields = extraction.extract(body, url, content_type, profile)
    stems = tuple(stem_text(fields.get(key) or "") for key in ("title", "lead", "text"))
    return fields, stems, match(_worker_topics, fields)


class WorkerPool:
    """The extraction worker processes, shared by all crawls of one process.

    `scrapy crawl orda sputnik_ru` runs two crawls side by side; they share the workers (as
    many as MONITOR_EXTRACT_WORKERS, not twice that), started with the first page to extract and
    stopped when the last crawl using them closes.
    """

    def __init__(self, workers: int, topics_path: str | None):
        self.workers = workers
        self.topics_path = topics_path
        self.executor: ProcessPoolExecutor | None = None
        self.users = 0

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            # spawn: the workers are children of the crawl itself (not of a forkserver that
            # outlives it), start clean without the reactor's threads, and die with it.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_up,
            initargs=(self.topics_path, os.getpid()),
        )

    async def run(self, *args: Any) -> Any:
        """extract_and_index(*args) in a worker; a worker that dies is replaced, once."""
        if self.executor is None:
            self.executor = self._start()
        loop = asyncio.get_running_loop()
        executor = self.executor
        try:
            return await loop.run_in_executor(executor, extract_and_index, *args)
        except BrokenProcessPool:
            # A worker died (out of memory, a crash in C code): replace the pool, retry once.
            if self.executor is executor:
                logger.warning("an extraction worker died; restarting the pool")
                executor.shutdown(wait=False, cancel_futures=False)
                self.executor = self._start()
            return await loop.run_in_executor(self.executor, extract_and_index, *args)

    def release(self) -> None:
        """One crawl is done with the pool; the last one stops the workers."""
        self.users -= 1
        if self.users <= 0 and self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


_pools: dict[tuple[int, str | None], WorkerPool] = {}


def worker_pool(workers: int, topics_path: str | None) -> WorkerPool:
    """The process's pool for these settings, with one more user."""
    pool = _pools.setdefault((workers, topics_path), WorkerPool(workers, topics_path))
    pool.users += 1
    return pool


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
        self.topics: list[Any] = []
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
        if isinstance(item, Article | PageFailure):
            self.buffer.append(item)
            if len(self.buffer) >= 200:
                self.flush()
        return item

    def _match(self, fields: dict[str, Any]) -> list[Any]:
        from monitor.matching import load_topics, match  # only when extracting in-process

        if not self.topics:
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
                        matches = item.matches
                        if matches is None:  # extracted in this process: match here too
                            matches = self._match(item.fields)
                        db.save_matches(self.db, article_id, matches)
        except sqlite3.Error as exc:
            logger.error("cannot write to %s: %s; will retry", self.path, exc)
            return
        self.buffer = []
        for key, value in counts.items():
            stats.inc_value(f"monitor/{key}", value)
