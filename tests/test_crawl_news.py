"""End to end: the generic `news` spider against a replica of a generic outlet (Tengrinews-like).

The outlet's registry entry (seeds/outlets.yml, slug `tengrinews`) is all the spider knows.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import sqlite_utils

from monitor.replica.generic import GenericSite
from monitor.replica.server import ReplicaServer
from tests.conftest import (
    SINCE,
    article_requests,
    assert_stored_exactly,
    expected_articles,
    scrapy_crawl,
)


@pytest.fixture
def outlet():
    with ReplicaServer(GenericSite()) as server:
        yield server


def crawl(server: ReplicaServer, db_path) -> subprocess.CompletedProcess:
    result = scrapy_crawl(
        "news", db_path, "outlet=tengrinews", f"base_url={server.origin}", f"since={SINCE}"
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_first_crawl_stores_every_article_once_with_exact_fields(outlet, db_path):
    site = outlet.site
    crawl(outlet, db_path)
    expected = expected_articles(site)
    assert len(expected) >= 10
    database = sqlite_utils.Database(db_path)
    rows = assert_stored_exactly(database, site, expected, "tengrinews")
    assert {row["lang"] for row in rows.values()} == {"ru", "kk"}
    for article in expected:
        assert outlet.hits("^" + re.escape(article.path) + "$") == 1, article.url
    old = [a for a in site.articles if a.published < SINCE]
    assert old and not any(outlet.hits(re.escape(a.path)) for a in old)
    assert outlet.hits(r"^/sitemap-news-2021-12\.xml$") == 0
    (run,) = database["crawls"].rows
    assert (run["outlet"], run["status"], run["new"]) == ("tengrinews", "ok", len(expected))


def test_second_crawl_fetches_no_article_and_an_edit_makes_a_version(outlet, db_path):
    site = outlet.site
    crawl(outlet, db_path)
    first_count = sqlite_utils.Database(db_path)["articles"].count
    outlet.clear_log()

    crawl(outlet, db_path)
    assert article_requests(outlet) == []
    assert sqlite_utils.Database(db_path)["articles"].count == first_count

    edited = expected_articles(site)[2]
    site.edit_article(
        edited.id,
        add_paragraph="Редакция дополнила материал комментарием пресс-службы министерства.",
        modified="2022-03-02T09:00:00+06:00",
    )
    outlet.clear_log()
    crawl(outlet, db_path)
    assert article_requests(outlet) == [edited.path]
    database = sqlite_utils.Database(db_path)
    row = next(database["articles"].rows_where("url = ?", [edited.url]))
    assert "комментарием пресс-службы" in row["text"]
    assert row["modified"] == "2022-03-02T09:00:00+06:00"
    assert database["versions"].count == 1
    assert database["articles"].count == first_count


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the news spider needs -a outlet=SLUG"),
        (["outlet=nosuch"], "unknown outlet 'nosuch'"),
        (["outlet=sputnik_ru"], "use `scrapy crawl sputnik_ru`"),
    ],
    ids=["no-outlet", "unknown-outlet", "outlet-with-its-own-spider"],
)
def test_news_without_a_usable_outlet_stops_before_any_request(outlet, db_path, args, message):
    result = scrapy_crawl("news", db_path, *args, f"base_url={outlet.origin}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0]
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in result.stderr
    assert outlet.log == []
