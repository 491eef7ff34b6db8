"""The topic page (/topics/SLUG) and its exports, through Datasette's test client.

Two databases: the crawled one of test_datasette (real matches of the Orda.kz replica), and one
of 1,203 matches stored directly, for paging and for exports larger than one chunk.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from html import unescape

import pytest
import sqlite_utils

from monitor import db as monitor_db
from monitor.serve import datasette
from tests.test_datasette import build_monitor_db

MANY = 1203


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_monitor_db(tmp_path_factory.mktemp("topic-pages") / "monitor.db")


@pytest.fixture(scope="module")
def ds(built):
    return datasette(built.path)


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A database with MANY matches of qantar (every tenth undated, a third in Kazakh)."""
    path = tmp_path_factory.mktemp("many") / "monitor.db"
    database = monitor_db.open_db(path)
    with monitor_db.writing(database):
        for i in range(MANY):
            published = (
                None if i % 10 == 0 else f"2022-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+06:00"
            )
            _, article_id = monitor_db.save_article(
                database,
                {
                    "url": f"https://example.kz/news/{i}",
                    "outlet": "example",
                    "lang": "kk" if i % 3 == 0 else "ru",
                    "title": f"Статья {i}",
                    "lead": f"Лид {i}",
                    "text": f"Текст статьи {i}",
                    "published": published,
                    "source": "crawl",
                },
            )
            database.execute(
                "insert into matches (article_id, topic, score, evidence, matched) values "
                "(?, 'qantar', ?, '[]', '2026-12-01T00:00:00+00:00')",
                [article_id, float(i % 20)],
            )
    database.close()
    return datasette(path)


def get(ds, path: str):
    return asyncio.run(ds.client.get(path))


def titles(html: str) -> list[str]:
    return [
        unescape(t) for t in re.findall(r'<a class="title" href="[^"]+"[^>]*>([^<]*)</a>', html)
    ]


def test_the_topic_page_reads_without_sql(ds, built):
    response = get(ds, "/topics/qantar")
    assert response.status_code == 200
    html = response.text
    assert "<h1>Қаңтар — the January 2022 events</h1>" in html
    for word in ("SQL", "Run SQL", "Edit SQL", "Custom SQL", "rows"):
        assert word not in html, word
    database = sqlite_utils.Database(built.path)
    expected = database.execute(
        "select a.title from matches m join articles a on a.id = m.article_id "
        "where m.topic = 'qantar' order by a.published is null, a.published desc"
    ).fetchall()
    assert titles(html) == [t for (t,) in expected][:50]
    # the evidence is there, folded away behind "why it matched"
    assert html.count('<details class="why">') == len(titles(html))
    assert '<details class="why" open' not in html
    for fmt in ("csv", "json", "jsonl"):
        assert f'href="/topics/qantar.{fmt}"' in html
    assert 'href="/monitor/topic_feed.atom?topic=qantar"' in html


def test_filters_narrow_the_list(ds, built):
    database = sqlite_utils.Database(built.path)
    kazakh = database.execute(
        "select a.title from matches m join articles a on a.id = m.article_id "
        "where m.topic = 'qantar' and a.lang = 'kk' order by a.published desc"
    ).fetchall()
    html = get(ds, "/topics/qantar?lang=kk").text
    assert titles(html) == [t for (t,) in kazakh] and "Қаңтар оқиғасынан бір жыл өтті" in titles(
        html
    )
    assert len(titles(html)) < len(titles(get(ds, "/topics/qantar").text))
    html = get(ds, "/topics/qantar?since=2023-01-05&until=2023-01-05").text
    assert len(titles(html)) == 1 and "onerror" in titles(html)[0]
    html = get(ds, "/topics/qantar?min_score=100000").text
    assert titles(html) == [] and "No article matches with these filters" in html
    html = get(ds, "/topics/qantar?since=yesterday&min_score=lots").text
    assert "Not understood: since: use a date such as 2022-01-05" in html
    assert "Not understood: minimum score: use a number such as 5" in html


def test_an_unknown_topic_is_404_with_the_list_and_case_is_forgiven(ds):
    response = get(ds, "/topics/qantr")
    assert response.status_code == 404
    assert "There is no topic “qantr”" in response.text
    assert 'href="/topics/qantar">Қаңтар — the January 2022 events</a>' in response.text
    response = get(ds, "/topics/Qantar")
    assert response.status_code == 302 and response.headers["location"] == "/topics/qantar"
    assert get(ds, "/topics/qantr.csv").status_code == 404
    listing = get(ds, "/topics/")
    assert listing.status_code == 200 and 'href="/topics/qantar"' in listing.text


def test_pages_are_newest_first_with_undated_last(many):
    first = get(many, "/topics/qantar").text
    assert len(titles(first)) == 50 and "page 1 of 25" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    last = get(many, "/topics/qantar?page=25").text
    assert len(titles(last)) == MANY - 24 * 50
    undated = {f"Статья {i}" for i in range(0, MANY, 10)}
    assert set(titles(last)) <= undated  # undated articles come last


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_exports_stream_every_match_with_the_filters(many, fmt):
    response = get(many, f"/topics/qantar.{fmt}")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="qantar.{fmt}"'
    if fmt == "csv":
        records = list(csv.DictReader(io.StringIO(response.text)))
    elif fmt == "json":
        records = json.loads(response.text)
    else:
        records = [json.loads(line) for line in response.text.splitlines()]
    assert len(records) == MANY  # more than two chunks of 500, no row cap
    assert len({r["url"] for r in records}) == MANY
    assert records[0]["text"].startswith("Текст статьи") and records[0]["lead"]
    kazakh = get(many, f"/topics/qantar.{fmt}?lang=kk&min_score=10").text
    expected = sum(1 for i in range(MANY) if i % 3 == 0 and i % 20 >= 10)
    if fmt == "json":
        assert len(json.loads(kazakh)) == expected
    elif fmt == "jsonl":
        assert len(kazakh.splitlines()) == expected
    assert get(many, f"/topics/qantar.{fmt}?since=someday").status_code == 400
