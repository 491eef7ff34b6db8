"""The extraction worker pool: a page over the time limit is a failure and its worker replaced."""

from __future__ import annotations

import asyncio
import os
import time

from monitor.patterns import compile_pattern
from monitor.workers import ExtractionTimeout, WorkerPool

# Backtracks polynomially (seconds at 40 letters, ages at 300) yet is no nested repetition, so
# the registry's load-time check lets it through: the time limit is what stops it.
SLOW = r"^\w*\w*\w*\w*\w*\w*\w*!$"
PARAGRAPHS = [
    "Акимат города сообщил о начале ремонта трех школ в северных микрорайонах этим летом.",
    "Работы начнутся в июне и продлятся до конца августа, занятия начнутся вовремя.",
    "Подрядчика выбрали по итогам конкурса, сметы опубликованы на сайте госзакупок.",
]


def page(*extra: str) -> bytes:
    body = "".join(f"<p>{text}</p>" for text in [*PARAGRAPHS, *extra])
    return (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        "<title>Ремонт школ</title></head><body><article><h1>Ремонт школ</h1>"
        f"{body}</article></body></html>"
    ).encode()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def pids(pool: WorkerPool) -> set[int]:
    return set(pool.executor._processes) if pool.executor is not None else set()


def wait_gone(pids_: set[int], timeout: float = 10) -> set[int]:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids_) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {pid for pid in pids_ if alive(pid)}


def test_a_page_over_the_time_limit_fails_and_its_worker_is_replaced():
    compile_pattern(SLOW)  # the load-time check lets it through
    profile = {"drop_text": [SLOW]}
    pool = WorkerPool(2, None, timeout=60)
    pool.users = 1
    url = "https://demo.kz/news/1"

    async def scenario() -> None:
        # both workers started and warmed up (their start-up is not what is timed here)
        first = await asyncio.gather(*(pool.run(page(), url, "text/html", profile) for _ in "ab"))
        assert all(fields["title"] == "Ремонт школ" for fields, *_ in first)
        old = pids(pool)
        assert len(old) == 2
        pool.timeout = 3
        started = time.monotonic()
        slow, fast = await asyncio.gather(
            pool.run(page("я" * 300), url, "text/html", profile),
            pool.run(page(), url, "text/html", profile),
            return_exceptions=True,
        )
        assert isinstance(slow, ExtractionTimeout) and "over 3 s" in str(slow)
        assert 3 <= time.monotonic() - started < 10
        assert PARAGRAPHS[0] in fast[0]["text"]  # the other worker's page is kept
        assert wait_gone(old) == set()  # the stuck worker is gone, not left behind
        pool.timeout = 60
        fields, *_ = await pool.run(page(), url, "text/html", profile)
        assert fields["title"] == "Ремонт школ" and pids(pool).isdisjoint(old)

    try:
        asyncio.run(scenario())
        workers = pids(pool)
    finally:
        pool.release()
    assert wait_gone(workers) == set()


def test_pages_waiting_for_a_worker_are_not_timed_while_they_wait():
    """With more pages than workers, a page's limit counts its own extraction only."""
    pool = WorkerPool(2, None, timeout=60)
    pool.users = 1

    async def scenario() -> list:
        await pool.run(page(), "https://demo.kz/1", "text/html", {})  # warm up
        pool.timeout = 2
        long = page(*(PARAGRAPHS * 150))  # some tenths of a second each
        return await asyncio.gather(
            *(pool.run(long, f"https://demo.kz/{n}", "text/html", {}) for n in range(12)),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(scenario())
    finally:
        pool.release()
    assert not [r for r in results if isinstance(r, BaseException)], results
