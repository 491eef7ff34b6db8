"""Fuzz: extraction and the feed, sitemap and listing readers over a few thousand mutated pages.

The pages start as the generic replica's article pages, feed, sitemaps and front page, and are
mutated with a seeded random generator (the same pages every run): truncated, re-encoded
against their declaration, bytes flipped or inserted, nested thousands deep, given huge or
countless attributes, repeated, gzipped, or given XML entity bombs and external entities.
Every page must come out as an article or a recorded failure: no other exception, no page
over the extraction time limit, no worker process left behind, nothing read from a file.
"""

from __future__ import annotations

import asyncio
import gzip
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request, XmlResponse
from scrapy.utils.test import get_crawler

from monitor.extraction import ExtractionError
from monitor.items import PageFailure
from monitor.replica.generic import GenericSite
from monitor.spiders.news import NewsSpider
from monitor.workers import ExtractionTimeout, WorkerPool
from tests.conftest import ROOT
from tests.test_workers import alive

SEED = 16
ARTICLE_PAGES = 500
DISCOVERY_PAGES = 2500
TIME_LIMIT = 10.0  # seconds per page, as MONITOR_EXTRACT_TIMEOUT
ORIGIN = "http://127.0.0.1:9"
SECRET_FILE = "root:x:0:0"  # the first line of /etc/passwd, if an external entity were read

Mutation = Callable[[random.Random, bytes], bytes]


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 50)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


JUNK = [
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\x1b[31m",
    b"<",
    b">",
    b"</",
    b"&#0;",
    b"&#xFFFFFF;",
    b"&nbsp",
    b"]]>",
    b"<![CDATA[",
    b"<!--",
    b"<script>",
    b"</html>",
    b"<?xml version='1.0' encoding='koi8-r'?>",
    b'<meta charset="utf-16">',
    "\u202e\ud7ff\U0001f600".encode(),
]


def insert_junk(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 20)):
        at = rng.randrange(len(data) + 1)
        data = data[:at] + rng.choice(JUNK) + data[at:]
    return data


def reencode(rng: random.Random, data: bytes) -> bytes:
    encoding = rng.choice(["cp1251", "koi8-r", "utf-16", "utf-32", "latin-1", "cp866", "ascii"])
    return data.decode("utf-8", errors="replace").encode(encoding, errors="replace")


def nest(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    tag = rng.choice([b"div", b"p", b"item", b"url", b"span", b"table", b"a"])
    depth = rng.randint(500, 5_000)
    close = b"</" + tag + b">" if rng.random() < 0.5 else b""
    return data[:at] + (b"<" + tag + b">") * depth + close * depth + data[at:]


def huge_attribute(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    value = rng.choice([b"x", b"\xd0\xaf", b"&amp;", b'"']) * rng.randint(10_000, 200_000)
    return data[:at] + b'<a href="' + value + b'">' + data[at:]


def many_attributes(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    count = rng.randint(200, 3_000)
    attrs = b" ".join(b'a%d="%d"' % (i, i) for i in range(count))
    return data[:at] + b"<p " + attrs + b">" + data[at:]


def repeat(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(len(data) + 1)
    piece = data[start : start + rng.randint(1, 1_000)]
    return data[:start] + piece * rng.randint(2, 30) + data[start:]


def entities(rng: random.Random, data: bytes) -> bytes:
    """A billion-laughs entity bomb or an external entity, before the document element."""
    if rng.random() < 0.5:
        lol = b'<!ENTITY l0 "lol">' + b"".join(
            b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10)
        )
        doctype, ref = b"<!DOCTYPE r [" + lol + b"]>", b"&l9;"
    else:
        doctype = b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        ref = b"&e;"
    body = data.split(b"?>", 1)[-1]
    at = body.find(b"<title>")
    if at >= 0:
        body = body[: at + 7] + ref + body[at + 7 :]
    return doctype + body


def strip(rng: random.Random, data: bytes) -> bytes:
    return data.replace(rng.choice([b"<", b">", b"/", b'"', b"="]), b"")


MUTATIONS: list[Mutation] = [
    truncate,
    flip,
    insert_junk,
    reencode,
    nest,
    huge_attribute,
    many_attributes,
    repeat,
    entities,
    strip,
]


def mutate(rng: random.Random, data: bytes, *, gzipped: bool = False) -> bytes:
    for mutation in rng.sample(MUTATIONS, rng.randint(1, 3)):
        data = mutation(rng, data)
    if gzipped and rng.random() < 0.15:
        data = gzip.compress(data, mtime=0)
        if rng.random() < 0.3:
            data = truncate(rng, data)
    return data


@pytest.fixture(scope="module")
def site() -> GenericSite:
    site = GenericSite()
    site.origin = ORIGIN
    return site


def fetch(site: GenericSite, path: str) -> bytes:
    reply = site.reply("GET", path, "", {})
    assert reply.status == 200, path
    return reply.body


def test_extraction_of_mutated_pages_gives_an_article_or_a_failure(site):
    rng = random.Random(SEED)
    originals = [(a.url, fetch(site, a.path)) for a in site.articles]
    pages = []
    for n in range(ARTICLE_PAGES):
        url, body = originals[n % len(originals)]
        pages.append((url, mutate(rng, body)))
    content_types = ["text/html; charset=utf-8", "text/html", "text/html; charset=koi8-r", None]
    profile = {"body": "article", "drop": ["figure", "aside"], "drop_text": ["^Реклама"]}
    pool = WorkerPool(2, None, timeout=TIME_LIMIT)
    pool.users = 1
    seen: set[int] = set()

    async def one(url: str, body: bytes, n: int) -> str:
        try:
            fields, *_ = await pool.run(body, url, content_types[n % 4], profile)
        except ExtractionError:
            return "failure"
        finally:
            if pool.executor is not None:
                seen.update(pool.executor._processes)
        assert isinstance(fields["title"], str) and fields["title"]
        assert isinstance(fields["text"], str) and len(fields["text"]) >= 40
        assert fields["lang"] is None or len(fields["lang"]) <= 2  # ru, kk, en, or <html lang>
        assert SECRET_FILE not in fields["text"] + fields["title"]
        return "article"

    async def run_all() -> list:
        return await asyncio.gather(
            *(one(url, body, n) for n, (url, body) in enumerate(pages)), return_exceptions=True
        )

    try:
        outcomes = asyncio.run(run_all())
    finally:
        pool.release()
    errors = [(pages[n][0], o) for n, o in enumerate(outcomes) if isinstance(o, BaseException)]
    timeouts = [e for e in errors if isinstance(e[1], ExtractionTimeout)]
    assert not timeouts, f"{len(timeouts)} pages over {TIME_LIMIT} s: {timeouts[:3]}"
    assert not errors, errors[:5]
    assert outcomes.count("article") > ARTICLE_PAGES // 4 and outcomes.count("failure") > 0
    assert seen and not [pid for pid in seen if alive(pid)], "workers left behind"


def test_feed_sitemap_and_listing_readers_take_mutated_pages(site, tmp_path: Path):
    crawler = get_crawler(
        NewsSpider,
        {
            "MONITOR_DB": str(tmp_path / "fuzz.db"),
            "MONITOR_OUTLETS": str(ROOT / "seeds/outlets.yml"),
        },
    )
    spider = NewsSpider.from_crawler(
        crawler, outlet="tengrinews", base_url=ORIGIN, since="2021-01-01"
    )
    readers = [
        ("/news.rss", spider.parse_feed, XmlResponse),
        ("/sitemap_ru.xml", spider.parse_sitemap, XmlResponse),
        ("/sitemap-news-2022-01.xml", spider.parse_sitemap, XmlResponse),
        ("/", spider.parse_listing, HtmlResponse),
    ]
    originals = [(path, fetch(site, path), read, kind) for path, read, kind in readers]
    rng = random.Random(SEED)
    counts = {"articles": 0, "discovery": 0, "failures": 0}
    for n in range(DISCOVERY_PAGES):
        path, body, read, kind = originals[n % len(originals)]
        url = ORIGIN + path
        spider.requested.clear()
        response = kind(url, body=mutate(rng, body, gzipped=True), request=Request(url))
        for out in read(response):
            if isinstance(out, PageFailure):
                counts["failures"] += 1
                assert out.url == url and out.permanent is False
                continue
            assert isinstance(out, Request)
            assert SECRET_FILE not in out.url
            if out.meta.get("discovery"):  # a child sitemap: the host guard checks its URL
                counts["discovery"] += 1
            else:
                assert spider.outlet.is_article(out.url), out.url
                counts["articles"] += 1
    assert counts["articles"] > DISCOVERY_PAGES and counts["discovery"] > 0, counts
    assert counts["failures"] > DISCOVERY_PAGES // 20, counts
