"""End to end: `scrapy crawl sputnik_ru` / `sputnik_kz` against replicas of Sputnik Kazakhstan.

Each test runs for both editions: ru.sputnik.kz (Russian) and sputnik.kz (Kazakh).
"""

from __future__ import annotations

import re
import subprocess
from urllib.parse import parse_qs

import pytest
import sqlite_utils

from monitor.replica.server import ReplicaServer
from monitor.replica.sputnik import SputnikSite
from tests.conftest import (
    SINCE,
    article_requests,
    assert_stored_exactly,
    expected_articles,
    scrapy_crawl,
)

EDITIONS = {"ru": "sputnik_ru", "kz": "sputnik_kz"}
ADDED = {
    "ru": "Редакция дополнила материал новыми сведениями от источников в правительстве.",
    "kz": "Редакция материалды үкіметтегі дереккөздерден алынған жаңа мәліметтермен толықтырды.",
}
RETITLED = {"ru": " (дополнено)", "kz": " (толықтырылды)"}


def crawl(server: ReplicaServer, spider: str, db_path, *extra: str) -> subprocess.CompletedProcess:
    result = scrapy_crawl(spider, db_path, f"base_url={server.origin}", f"since={SINCE}", *extra)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.fixture(scope="module", params=sorted(EDITIONS))
def first_crawl(request, tmp_path_factory):
    """One crawl of each edition, shared by the tests that only read its outcome."""
    edition = request.param
    db_path = tmp_path_factory.mktemp(f"sputnik_{edition}") / "monitor.db"
    with ReplicaServer(SputnikSite(edition=edition)) as server:
        crawl(server, EDITIONS[edition], db_path)
        yield server, EDITIONS[edition], sqlite_utils.Database(db_path)


@pytest.fixture(params=sorted(EDITIONS))
def edition(request) -> str:
    return request.param


def test_first_crawl_stores_every_article_once_with_exact_fields(first_crawl):
    server, spider, database = first_crawl
    site: SputnikSite = server.site
    expected = expected_articles(site)
    assert len(expected) >= 15
    assert_stored_exactly(database, site, expected, spider)


def test_each_page_is_fetched_once_and_old_print_and_tracking_urls_never(first_crawl):
    server, _, database = first_crawl
    site: SputnikSite = server.site
    for article in expected_articles(site):
        fetches = server.hits("^" + re.escape(article.path) + "$")
        assert fetches == (2 if article.path in site.flaky_paths else 1), (article.url, fetches)
    old = [a for a in site.articles if a.published < SINCE]
    assert old and not any(server.hits(re.escape(a.path)) for a in old)
    assert server.hits(r"-print\.html") == 0
    assert server.hits("utm_") == 0
    urls = [row["url"] for row in database["articles"].rows]
    assert len(urls) == len(set(urls))
    assert not any("utm_" in url or "-print" in url for url in urls)


def test_missing_page_is_a_failure_and_the_crawl_is_recorded(first_crawl):
    server, spider, database = first_crawl
    site: SputnikSite = server.site
    failures = {row["url"]: row for row in database["failures"].rows}
    missing = [a for a in site.articles if a.expect == "failure"]
    assert missing
    for article in missing:
        assert failures[article.url]["status"] == 404, article.note
        assert failures[article.url]["permanent"] == 1
    (run,) = database["crawls"].rows
    assert run["outlet"] == spider and run["status"] == "ok"
    assert run["new"] == database["articles"].count == len(expected_articles(site))
    assert run["updated"] == 0
    assert run["failed"] == database["failures"].count
    assert run["requests"] == len(server.log)


def test_only_the_sitemap_months_from_since_are_requested(first_crawl):
    server, _, _ = first_crawl
    assert server.hits(r"^/sitemap_article_index\.xml$") == 1
    starts = sorted(
        parse_qs(r.query)["date_start"][0] for r in server.log if r.path == "/sitemap_article.xml"
    )
    assert starts == ["20220101", "20220201"]


def test_the_platform_robots_txt_keeps_the_crawler_off_load_more(first_crawl):
    # RIA's robots.txt disallows `/*/*?*`, which covers /services/news/more.html?id=...
    server, _, _ = first_crawl
    assert server.hits(r"^/robots\.txt$") == 1
    assert server.hits(r"^/news/$") == 1
    assert server.hits(r"^/services/") == 0


def test_load_more_is_followed_until_items_are_older_than_since(edition, db_path):
    site = SputnikSite(edition=edition, robots="open")
    pages = site.listing_pages()
    # The fragments worth asking for: each one after a page whose items all reach `since`.
    wanted = 0
    while wanted + 1 < len(pages) and min(a.published for a in pages[wanted]) >= SINCE:
        wanted += 1
    assert 1 <= wanted < len(pages) - 1, "the archive reaches well behind since"
    with ReplicaServer(site) as server:
        crawl(server, EDITIONS[edition], db_path)
        fragments = [r for r in server.log if r.path == "/services/news/more.html"]
        assert len(fragments) == wanted
        ids = [int(parse_qs(r.query)["id"][0]) for r in fragments]
        assert ids == [pages[n][-1].id for n in range(wanted)]
        urls = {row["url"] for row in sqlite_utils.Database(db_path)["articles"].rows}
        assert urls == {a.url for a in expected_articles(site)}


def test_second_crawl_fetches_no_article_and_an_edit_makes_a_version(edition, db_path):
    spider = EDITIONS[edition]
    with ReplicaServer(SputnikSite(edition=edition)) as server:
        site: SputnikSite = server.site
        crawl(server, spider, db_path)
        first_count = sqlite_utils.Database(db_path)["articles"].count
        server.clear_log()

        crawl(server, spider, db_path)
        assert article_requests(server) == []
        database = sqlite_utils.Database(db_path)
        assert database["articles"].count == first_count
        assert [r["status"] for r in database["crawls"].rows] == ["ok", "ok"]

        edited = expected_articles(site)[3]
        old_title = edited.title
        site.edit_article(
            edited.id,
            title=old_title + RETITLED[edition],
            add_paragraph=ADDED[edition],
            modified="2022-03-01T10:00:00+06:00",
        )
        server.clear_log()
        crawl(server, spider, db_path)
        assert article_requests(server) == [edited.path]
        database = sqlite_utils.Database(db_path)
        row = next(database["articles"].rows_where("url = ?", [edited.url]))
        assert row["title"] == old_title + RETITLED[edition]
        assert ADDED[edition] in row["text"]
        assert row["modified"] == "2022-03-01T10:00:00+06:00"
        (version,) = database["versions"].rows_where("article_id = ?", [row["id"]])
        assert version["title"] == old_title
        assert ADDED[edition] not in version["text"]
        assert database["articles"].count == first_count
        last = list(database["crawls"].rows)[-1]
        assert (last["status"], last["new"], last["updated"]) == ("ok", 0, 1)
