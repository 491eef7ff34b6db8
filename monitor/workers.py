"""The extraction worker processes: the pool a crawl process shares between its crawls, and the
job each worker runs (extraction, stems for the search index, topic matches).

The pool starts with the first page to extract, so a crawl that finds nothing new starts no
worker, and several crawls in one process (`scrapy crawl orda sputnik_ru`) share it. Workers are
spawned, not forked: they start clean, without the reactor's threads, and import only this
module and what extraction needs (no Scrapy, no Twisted), which keeps them quick to start and
small. Each ends with its crawl, however the crawl ends.

A page gets MONITOR_EXTRACT_TIMEOUT seconds of a worker's time: a page that takes longer (a
pathological page, a slow pattern of the outlet's registry entry that the load-time check let
through) is a failure, and the worker stuck on it is killed and replaced. Only as many pages as
there are workers are handed to the pool at a time, so the limit counts a page's own time, not
its wait in the queue.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from monitor import extraction

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
DEFAULT_TIMEOUT = 60.0  # seconds of extraction a page may take
_worker_topics: list[Any] = []  # the topics, in a worker process


def _warm_up(topics_path: str | None = None, crawl_pid: int | None = None) -> None:
    """Import trafilatura's heavy parts and load the topics once per worker, not per page.

    A worker also ends when its crawl does, however the crawl ends (a SIGKILL included), so no
    orphaned worker lives on holding memory.
    """
    _die_with(crawl_pid)
    import trafilatura  # noqa: F401

    from monitor.topics import load_topics

    _worker_topics[:] = load_topics(topics_path) if topics_path else []


def _die_with(parent: int | None) -> None:
    """End this process when `parent` ends: the kernel's parent-death signal on Linux."""
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the crawl died before the signal was armed
        os._exit(1)


def extract_and_index(
    body: bytes,
    url: str,
    content_type: str | None,
    profile: Any,
    chrome: frozenset[int] = frozenset(),
    blocks: list[int] | None = None,
) -> tuple[dict[str, Any], tuple[str, str, str], list[Any]]:
    """extraction.extract(), plus the stems for the search index and the topic matches.

    `chrome` and `blocks` are the outlet template's (see extraction.extract()).
    """
    from monitor.matching import match
    from monitor.text import stem_text

    fields = extraction.extract(body, url, content_type, profile, chrome=chrome, blocks=blocks)
    stems = tuple(stem_text(fields.get(key) or "") for key in ("title", "lead", "text"))
    return fields, stems, match(_worker_topics, fields)


def extract_in_worker(
    body: bytes,
    url: str,
    content_type: str | None,
    profile: Any,
    chrome: frozenset[int] = frozenset(),
) -> tuple[dict[str, Any], tuple[str, str, str], list[Any], list[int]]:
    """extract_and_index(), and the page's block keys for the outlet template to learn."""
    blocks: list[int] = []
    return (*extract_and_index(body, url, content_type, profile, chrome, blocks), blocks)


class ExtractionTimeout(Exception):
    """A page whose extraction took longer than the time limit."""


class WorkerPool:
    """The extraction worker processes, shared by all crawls of one process.

    `scrapy crawl orda sputnik_ru` runs two crawls side by side; they share the workers (as
    many as MONITOR_EXTRACT_WORKERS, not twice that), started with the first page to extract and
    stopped when the last crawl using them closes.
    """

    def __init__(self, workers: int, topics_path: str | None, timeout: float = DEFAULT_TIMEOUT):
        self.workers = workers
        self.topics_path = topics_path
        self.timeout = timeout
        self.executor: ProcessPoolExecutor | None = None
        self.users = 0
        self.topics_fingerprint: str | None = None  # of the topic file the workers loaded
        self._slots: asyncio.Semaphore | None = None

    def _start(self) -> ProcessPoolExecutor:
        from monitor.matching import fingerprint

        self.topics_fingerprint = fingerprint(self.topics_path)  # before the workers read it
        return ProcessPoolExecutor(
            self.workers,
            # spawn: the workers are children of the crawl itself (not of a forkserver that
            # outlives it), start clean without the reactor's threads, and die with it.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_up,
            initargs=(self.topics_path, os.getpid()),
        )

    async def run(self, *args: Any) -> Any:
        """extract_in_worker(*args) in a worker; a worker that dies is replaced and the page
        tried once more; ExtractionTimeout when the page takes longer than the time limit."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        async with self._slots:
            if self.executor is None:
                self.executor = self._start()
            executor = self.executor
            try:
                return await self._run_in(executor, args)
            except BrokenProcessPool:
                # A worker died (out of memory, a crash in C code, or killed after another
                # page's time limit): replace the pool, retry once.
                self._replace(executor, "an extraction worker died; restarting the pool")
                return await self._run_in(self.executor, args)

    async def _run_in(self, executor: ProcessPoolExecutor, args: tuple[Any, ...]) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(executor, extract_in_worker, *args)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            # The worker is stuck in this page (a C call or a regex does not stop for a
            # signal): kill the pool's workers; the pages the others had are tried again.
            self._replace(executor, f"extraction of {args[1]} took over {self.timeout:g} s")
            raise ExtractionTimeout(f"extraction took over {self.timeout:g} s") from None

    def _replace(self, executor: ProcessPoolExecutor, why: str) -> None:
        """Kill the workers of `executor` and start a new pool, unless that is done already."""
        if self.executor is not executor:
            return
        logger.warning(why)
        for process in list(getattr(executor, "_processes", {}).values()):
            if process.is_alive():
                process.kill()
        executor.shutdown(wait=False, cancel_futures=False)
        self.executor = self._start()

    def release(self) -> None:
        """One crawl is done with the pool; the last one stops the workers."""
        self.users -= 1
        if self.users <= 0 and self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


_pools: dict[tuple[int, str | None], WorkerPool] = {}


def worker_pool(
    workers: int, topics_path: str | None, timeout: float = DEFAULT_TIMEOUT
) -> WorkerPool:
    """The process's pool for these settings, with one more user."""
    pool = _pools.setdefault(
        (workers, topics_path), WorkerPool(workers, topics_path, timeout=timeout)
    )
    pool.users += 1
    return pool
