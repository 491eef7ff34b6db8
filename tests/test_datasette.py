"""Datasette on a crawled database: canned queries, search, the Atom feed and the article page.

The database comes from real `scrapy crawl orda` runs against the loopback Orda.kz replica (a
first crawl, then a second after the site edited an article, which makes a version), plus a few
articles stored with monitor.db.save_article that a crawl of the replica cannot produce (HTML in
titles, Kazakh word forms). Datasette runs in process with the storage/ configuration.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils
import yaml

from monitor import db as monitor_db
from monitor import settings as monitor_settings
from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer
from monitor.serve import CONFIG_DIR, datasette
from monitor.text import normalize, stem_text
from tests.conftest import ROOT, scrapy_crawl

SINCE = "2022-01-01"
ATOM = "{http://www.w3.org/2005/Atom}"
SCRIPT_TITLE = "<script>alert(1)</script>"
IMG_TITLE = """<img src=x onerror="document.title='pwned';document.body.dataset.pwned='1'">"""
EDIT_PARAGRAPH = "Редакция дополнила материал новыми подробностями расследования."


@dataclass
class Built:
    """A crawled database and what the tests know about it."""

    path: Path
    site: OrdaSite
    edited_id: int = 0  # an article the second crawl saw changed
    edited_old_title: str = ""
    script_id: int = 0  # title <script>alert(1)</script>
    img_id: int = 0  # title with an onerror handler; matches topic qantar
    kazakh_id: int = 0  # Kazakh text with оқиғасынан and оқиғаларына
    stored: list = field(default_factory=list)  # ground truth of the stored replica articles


def build_monitor_db(path: Path) -> Built:
    """Crawl the Orda.kz replica into `path` twice (with an edit between) and add test articles."""
    site = OrdaSite()
    built = Built(path=path, site=site)
    with ReplicaServer(site) as server:
        first = scrapy_crawl("orda", path, f"base_url={server.origin}", f"since={SINCE}")
        assert first.returncode == 0, first.stderr[-3000:]
        edited = _matched_article(site, path)
        built.edited_old_title = edited.title
        site.edit_article(
            edited.id,
            title=edited.title + " (дополнено)",
            add_paragraph=EDIT_PARAGRAPH,
            modified="2024-06-01T10:00:00+06:00",
        )
        second = scrapy_crawl("orda", path, f"base_url={server.origin}", f"since={SINCE}")
        assert second.returncode == 0, second.stderr[-3000:]
    built.stored = [a for a in site.articles if a.expect == "stored" and a.published >= SINCE]
    database = monitor_db.open_db(path)
    built.edited_id = database.execute(
        "select id from articles where url = ?", [edited.url]
    ).fetchone()[0]
    built.script_id = _store(
        database,
        url="https://orda.kz/test-script-1/",
        title=SCRIPT_TITLE,
        lead="<b>Не жирный</b> & не ссылка <a href='javascript:alert(2)'>x</a>",
        text="Первый абзац.\nВторой абзац <script>document.title='pwned'</script>.",
        published="2023-01-04T09:00:00+06:00",
    )
    built.img_id = _store(
        database,
        url="https://orda.kz/test-img-2/",
        title=IMG_TITLE,
        lead="Годовщина январских событий: что изменилось.",
        text="В Алматы вспоминали январские события 2022 года.\n"
        "<script>document.body.dataset.pwned='2'</script> Жертвы январской трагедии ждут ответа.",
        published="2023-01-05T10:00:00+06:00",
    )
    built.kazakh_id = _store(
        database,
        url="https://orda.kz/kz/test-kantar-3/",
        title="Қаңтар оқиғасынан бір жыл өтті",
        lead="Қаңтар оқиғаларына байланысты сот процестері жалғасуда.",
        text="Алматыда қаңтар оқиғасынан кейін көп адам сотталды.\nТергеу әлі аяқталған жоқ.",
        published="2023-01-06T09:00:00+06:00",
        lang="kk",
    )
    # A removal as `monitor recheck` records it (tests/test_recheck.py finds real ones): the
    # article whose title carries an onerror handler (it matches qantar), gone with a 404.
    database["removals"].insert(
        {
            "article_id": built.img_id,
            "url": "https://orda.kz/test-img-2/",
            "detected": "2024-02-01T10:00:00+00:00",
            "reason": "gone",
            "status": 404,
            "evidence": "[]",
        }
    )
    database.conn.close()
    return built


def _matched_article(site: OrdaSite, path: Path):
    """A stored replica article that matched a topic (to edit, so that it gets a version)."""
    database = sqlite_utils.Database(path)
    matched = {
        r["url"] for r in database.query("select url from articles join matches on id = article_id")
    }
    database.conn.close()
    return next(a for a in site.articles if a.url in matched)


def _store(database, **article) -> int:
    from monitor.topics import load_topics, match_article

    article = {"outlet": "orda", "lang": "ru", "source": "crawl", "author": "Тест", **article}
    _, article_id = monitor_db.save_article(database, article)
    topics = load_topics(ROOT / "seeds" / "topics.yml")
    found = match_article(
        topics, title=article["title"], lead=article["lead"], text=article["text"]
    )
    monitor_db.save_matches(database, article_id, found)
    return article_id


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    return build_monitor_db(tmp_path_factory.mktemp("datasette") / "monitor.db")


@pytest.fixture(scope="module")
def ds(built):
    return datasette(built.path)


@pytest.fixture(scope="module")
def rows(built):
    """Run SQL on the built database directly (the ground truth for Datasette's answers)."""
    database = sqlite_utils.Database(built.path)

    def query(sql: str, params=()):
        return list(database.query(sql, params))

    return query


def get(ds, path: str, **params):
    if params:
        path += ("&" if "?" in path else "?") + urlencode(params)
    return asyncio.run(ds.client.get(path))


def get_json(ds, path: str, **params):
    response = get(ds, path, **params)
    assert response.status_code == 200, (path, response.text[:2000])
    return response.json()


def canned(ds, name: str, **params) -> list[dict]:
    return get_json(ds, f"/monitor/{name}.json?_shape=array", **params)


def metadata() -> dict:
    return yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8"))


# --- configuration ----------------------------------------------------------------------------


def test_database_is_named_monitor_whatever_the_file_and_is_mutable(built, tmp_path):
    other = tmp_path / "elsewhere.sqlite"
    shutil.copy(built.path, other)
    instance = datasette(other)
    assert [name for name in instance.databases if name != "_internal"] == ["monitor"]
    database = instance.databases["monitor"]
    assert database.is_mutable and not database.is_memory
    assert canned(instance, "search", q="событие")
    # Served read-only but not immutable: what a crawl writes meanwhile shows at once.
    before = get_json(instance, "/monitor/articles.json?_size=0")["filtered_table_rows_count"]
    writer = monitor_db.open_db(other)
    monitor_db.save_article(
        writer,
        {
            "url": "https://orda.kz/new-4/",
            "outlet": "orda",
            "lang": "ru",
            "title": "Новое",
            "lead": "",
            "text": "Квазипроверочная заметка о январских событиях.",
            "source": "crawl",
        },
    )
    found = canned(instance, "search", q="квазипроверочный")
    writer.conn.close()
    after = get_json(instance, "/monitor/articles.json?_size=0")["filtered_table_rows_count"]
    assert after == before + 1 and [r["title"] for r in found] == ["Новое"]
    response = get(instance, "/monitor.json", sql="delete from articles")
    assert (
        response.status_code == 400
        and after
        == get_json(instance, "/monitor/articles.json?_size=0")["filtered_table_rows_count"]
    )


def test_plugins_are_loaded(ds):
    names = {p["name"] for p in get_json(ds, "/-/plugins.json")}
    assert {"datasette-atom", "datasette-dashboards", "search.py", "feeds.py"} <= names
    assert {"display.py", "pages.py"} <= names


def test_internal_tables_are_hidden_and_public_ones_described(ds):
    tables = {t["name"]: t for t in get_json(ds, "/monitor.json")["tables"]}
    for name in ("articles", "matches", "versions", "crawls", "failures"):
        assert not tables[name]["hidden"], name
    for name in ("aliases", "fetch_state", "_sqlite_migrations", "schedule", "articles_fts"):
        assert tables[name]["hidden"], name
    for name in ("articles_fts_data", "articles_stem_fts", "articles_stem_fts_idx"):
        assert tables[name]["hidden"], name
    html = get(ds, "/").text
    assert "Kazakhstan news monitor" in html
    assert "fetch_state" not in html and "_sqlite_migrations" not in html


def test_tables_sort_newest_first_and_facet(ds, rows):
    data = get_json(ds, "/monitor/articles.json?_shape=objects&_size=100")
    published = [r["published"] for r in data["rows"]]
    assert published == sorted(published, reverse=True)
    assert data["human_description_en"] == "sorted by published descending"
    assert {"outlet", "lang"} <= set(data["facet_results"])
    outlets = {f["value"]: f["count"] for f in data["facet_results"]["outlet"]["results"]}
    assert outlets == {"orda": rows("select count(*) as n from articles")[0]["n"]}
    crawls = get_json(ds, "/monitor/crawls.json?_shape=objects")
    assert crawls["human_description_en"] == "sorted by started descending"
    assert [r["id"] for r in crawls["rows"]] == [2, 1]
    failures = get_json(ds, "/monitor/failures.json")
    assert failures["human_description_en"] == "sorted by at descending"
    matches = get_json(ds, "/monitor/matches.json")
    assert "topic" in matches["facet_results"]


def test_storage_works_as_a_datasette_config_directory(built, tmp_path):
    """`datasette storage/` serves storage/monitor.db with the same configuration."""
    from datasette.app import Datasette

    config = tmp_path / "storage"
    shutil.copytree(CONFIG_DIR, config, ignore=shutil.ignore_patterns("*.db*", "__pycache__"))
    shutil.copy(built.path, config / "monitor.db")
    instance = Datasette([], config_dir=config)
    assert "monitor" in instance.databases
    assert canned(instance, "search", q="событие")
    assert get(instance, "/monitor/topic_feed.atom", topic="qantar").status_code == 200


# --- search -----------------------------------------------------------------------------------


def ids(result: list[dict]) -> set[int]:
    return {row["article_id"] for row in result}


def test_search_finds_russian_word_forms(ds, rows, built):
    found = canned(ds, "search", q="событие")
    expected = {
        r["id"]
        for r in rows("select id, title, lead, text from articles")
        if "событ" in stem_text(" ".join(filter(None, [r["title"], r["lead"], r["text"]]))).split()
    }
    assert expected and expected <= ids(found)
    january = {
        r["id"] for r in rows("select id from articles where text like '%январских событий%'")
    }
    assert january and january <= ids(found)
    # Found by forms other than the one asked for: some of these texts never say "событие".
    texts = {r["id"]: r["text"] for r in rows("select id, text from articles")}
    assert any("событие" not in normalize(texts[i]) for i in january)
    for row in found:
        assert row["url"] and row["title"] is not None and row["snippet"]


def test_search_is_ordered_by_relevance(ds, rows):
    q = "январские события"
    found = [r["article_id"] for r in canned(ds, "search", q=q)]
    fts_query = get_json(ds, "/monitor.json?_shape=array&sql=select+stem_query(:q)+as+f", q=q)
    ranked = rows(
        "select rowid, bm25(articles_stem_fts) as score from articles_stem_fts "
        "where articles_stem_fts match ?",
        [fts_query[0]["f"]],
    )
    assert len(found) == len(ranked) > 3
    score = {r["rowid"]: r["score"] for r in ranked}
    assert [score[i] for i in found] == sorted(score[i] for i in found)  # best (lowest) first


def test_search_finds_kazakh_word_forms(ds, rows, built):
    found = ids(canned(ds, "search", q="оқиға"))
    assert built.kazakh_id in found  # оқиғасынан, оқиғаларына
    crawled_kk = {
        r["id"]
        for r in rows("select id, text from articles where lang = 'kk' and source = 'crawl'")
        if re.search(r"оқиға(сы|лар)", r["text"] or "", re.IGNORECASE)
    }
    assert crawled_kk <= found
    assert built.kazakh_id in ids(canned(ds, "search", q="Қаңтар оқиғалары"))


def test_search_treats_yo_and_ye_alike(ds, built):
    word, article = None, None
    for candidate in built.stored:
        match = re.search(r"\b\w*ё\w*\b", candidate.text)
        if match:
            word, article = match.group(), candidate
            break
    assert word, "the replica has a word with ё"
    found = canned(ds, "search", q=word.replace("ё", "е"))
    assert article.url in {r["url"] for r in found}


def test_search_survives_any_input(ds):
    for q in ['"', "NEAR(", "*", "-", "OR", "a AND", "", "  ", "'; drop table articles; --", "ё*"]:
        response = get(ds, "/monitor/search.json?_shape=array", q=q)
        assert response.status_code == 200, (q, response.text[:500])


def test_phrase_exclusion_and_prefix(ds, rows, built):
    with_events = ids(canned(ds, "search", q='"январских событий"'))
    assert built.img_id in with_events
    without = ids(canned(ds, "search", q="январских событий -Алматы"))
    assert built.img_id not in without and without < ids(
        canned(ds, "search", q="январских событий")
    )
    tokayev = {
        r["id"]
        for r in rows("select id, title, lead, text from articles")
        if re.search(r"\bТокаев", " ".join(filter(None, [r["title"], r["lead"], r["text"]])))
    }
    assert tokayev and tokayev <= ids(canned(ds, "search", q="Токаев*"))


def test_table_search_on_articles_fts_still_works(ds, rows):
    texts = {
        r["id"]: " ".join(filter(None, [r["title"], r["lead"], r["text"]])).lower()
        for r in rows("select id, title, lead, text from articles")
    }

    def table_search(**params):
        data = get_json(ds, "/monitor/articles.json?_shape=objects&_size=max", **params)
        return {r["id"] for r in data["rows"]}

    exact = {i for i, t in texts.items() if re.search(r"(?<!\w)токаев(?!\w)", t)}
    assert exact and table_search(_search="Токаев") == exact
    exact = {i for i, t in texts.items() if re.search(r"(?<!\w)событий(?!\w)", t)}
    prefix = {i for i, t in texts.items() if re.search(r"(?<!\w)событи", t)}
    assert table_search(_search="событий") == exact
    assert table_search(_search="событи*", _searchmode="raw") == prefix > exact


# --- canned queries ---------------------------------------------------------------------------


def test_every_canned_query_answers(ds, built):
    samples = {"q": "событие", "topic": "qantar", "id": str(built.edited_id)}
    for name, query in metadata()["databases"]["monitor"]["queries"].items():
        params = {p: samples[p] for p in samples if f":{p}" in query["sql"]}
        response = get(ds, f"/monitor/{name}.json?_shape=array", **params)
        assert response.status_code == 200, (name, response.text[:1000])
        assert response.json(), name
        html = get(ds, f"/monitor/{name}", **params)
        assert html.status_code == 200, name


def test_topic_lists_latest_matches_with_score_and_evidence(ds, rows):
    found = canned(ds, "topic", topic="qantar")
    truth = rows("select article_id, score from matches where topic = 'qantar'")
    assert len(truth) >= 5
    assert {r["article_id"]: r["score"] for r in found} == {
        r["article_id"]: r["score"] for r in truth
    }
    for row in found:
        evidence = json.loads(row["evidence"])
        assert evidence and {"rule", "term", "field", "snippet"} <= set(evidence[0])
    published = [r["published"] for r in found]
    assert published == sorted(published, reverse=True)
    assert canned(ds, "topic", topic="no-such-topic") == []


def test_topic_daily_counts_add_up(ds, rows):
    daily = canned(ds, "topic_daily", topic="qantar")
    total = rows(
        "select count(*) as n from matches m join articles a on a.id = m.article_id "
        "where topic = 'qantar' and a.published is not null"
    )[0]["n"]
    assert sum(r["matches"] for r in daily) == total  # undated articles have no day
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["day"]) for r in daily)
    assert {r["outlet"] for r in daily} == {"orda"}
    assert sum(r["matches"] for r in canned(ds, "topic_daily", topic="")) >= total


def test_topic_search_keeps_to_the_topic(ds, rows):
    in_topic = {
        r["article_id"] for r in rows("select article_id from matches where topic = 'qantar'")
    }
    found = ids(canned(ds, "topic_search", topic="qantar", q="Алматы"))
    assert found and found <= in_topic
    assert canned(ds, "topic_search", topic="no-such-topic", q="Алматы") == []


def test_crawl_health_per_outlet(ds, rows, built):
    health = {r["outlet"]: r for r in canned(ds, "crawl_health")}
    orda = health["orda"]
    last = rows("select * from crawls where outlet = 'orda' order by id desc limit 1")[0]
    assert orda["last_status"] == last["status"] == "ok"
    assert orda["last_started"] == last["started"] and orda["requests"] == last["requests"]
    assert orda["crawls_7_days"] == 2 and orda["bad_crawls_7_days"] == 0
    failures = rows("select count(*) as n from failures")[0]["n"]
    assert failures and orda["failures_7_days"] == failures
    articles = rows("select count(*) as n from articles where outlet = 'orda'")[0]["n"]
    assert orda["articles_7_days"] == articles
    assert orda["articles_per_day"] == round(articles / 7, 1)


def test_article_query_returns_current_and_earlier_versions(ds, built):
    found = canned(ds, "article", id=str(built.edited_id))
    assert [r["version"] for r in found] == ["current", "earlier"]
    assert found[0]["title"].endswith("(дополнено)") and EDIT_PARAGRAPH in found[0]["text"]
    assert found[1]["title"] == built.edited_old_title and EDIT_PARAGRAPH not in found[1]["text"]


# --- Atom feed --------------------------------------------------------------------------------


def feed_of(ds, **params):
    response = get(ds, "/monitor/topic_feed.atom", **params)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def test_atom_feed_of_a_topic(ds, rows):
    feed = feed_of(ds, topic="qantar")
    assert feed.findtext(f"{ATOM}title") == "Monitor: Қаңтар — the January 2022 events"
    assert "January 2022 unrest" in feed.findtext(f"{ATOM}subtitle")
    entries = feed.findall(f"{ATOM}entry")
    total = rows("select count(*) as n from matches where topic = 'qantar'")[0]["n"]
    assert len(entries) == min(total, 200) > 0
    urls = {r["url"] for r in rows("select url from articles")}
    published = {r["url"]: r["published"] for r in rows("select url, published from articles")}
    for entry in entries:
        url = entry.findtext(f"{ATOM}id")
        assert url in urls
        assert entry.find(f"{ATOM}link").get("href") == url
        assert re.search(r"[+-]\d\d:\d\d$|Z$", entry.findtext(f"{ATOM}updated"))
        if published[url]:
            assert datetime.fromisoformat(entry.findtext(f"{ATOM}published")) == (
                datetime.fromisoformat(published[url])
            )
        assert "Topic: Қаңтар" in entry.findtext(f"{ATOM}content")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert f"[orda] {IMG_TITLE}" in titles  # markup in a title is text in the feed


def test_atom_feed_pages_through_every_match(ds, rows):
    total = rows("select count(*) as n from matches where topic = 'qantar'")[0]["n"]
    assert total >= 3
    seen, page = [], 1
    while True:
        feed = feed_of(ds, topic="qantar", size="2", page=str(page))
        seen += [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
        links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
        assert "size=2" in links["first"] and "page=" not in links["first"]
        assert links["last"].endswith(f"page={-(-total // 2)}&size=2")
        assert ("previous" in links) == (page > 1)
        if "next" not in links:
            break
        assert links["next"].endswith(f"page={page + 1}&size=2")
        page += 1
    assert len(seen) == len(set(seen)) == total


@pytest.mark.parametrize("query", ["topic=no-such-topic", "topic=", ""])
def test_atom_feed_of_an_unknown_topic_is_404_with_the_topics(ds, query):
    response = get(ds, f"/monitor/topic_feed.atom?{query}")
    assert response.status_code == 404
    assert "No such topic" in response.text and "qantar" in response.text


def test_atom_feed_of_a_topic_without_matches_is_empty(ds, tmp_path, monkeypatch):
    topics = tmp_path / "topics.yml"
    text = (ROOT / "seeds" / "topics.yml").read_text("utf-8")
    topics.write_text(text.replace("\n  - slug: qantar\n", "\n  - slug: quiet\n"), "utf-8")
    monkeypatch.setattr(monitor_settings, "MONITOR_TOPICS", str(topics))
    feed = feed_of(ds, topic="quiet")
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}title") and feed.findtext(f"{ATOM}updated")


# --- pages ------------------------------------------------------------------------------------


def test_article_page_shows_text_source_evidence_and_versions(ds, rows, built):
    html = get(ds, f"/monitor/articles/{built.edited_id}").text
    article = rows("select * from articles where id = ?", [built.edited_id])[0]
    for paragraph in filter(None, article["text"].splitlines()):
        assert f">{_escape(paragraph.strip())}</p>" in html  # the lead is <p class="lead">
    assert f'<a href="{_escape(article["url"])}"' in html
    evidence = json.loads(
        rows("select evidence from matches where article_id = ?", [built.edited_id])[0]["evidence"]
    )
    assert _escape(evidence[0]["snippet"]) in html and _escape(evidence[0]["term"]) in html
    assert "Earlier versions" in html and _escape(built.edited_old_title) in html
    assert f'<p class="added">+ {_escape(EDIT_PARAGRAPH)}</p>' in html


def test_an_edit_between_crawls_is_shown_word_by_word_with_its_captures(ds, rows, built):
    html = get(ds, f"/monitor/articles/{built.edited_id}").text
    assert "Edited 1 time after publication" in html
    edits = html.split('<section class="edits"', 1)[1].split("</section>", 1)[0]
    inserted = " ".join(re.findall(r"<ins>(.*?)</ins>", edits, re.S))
    assert "(дополнено)" in inserted  # the title's new words
    assert "Редакция дополнила материал" in inserted  # the added paragraph
    assert "<del>" not in edits  # nothing was taken out
    captures = rows(
        "select id from captures where article_id = ? and status = 200", [built.edited_id]
    )
    assert len(captures) == 2  # one per crawl that fetched it
    for capture in captures:
        assert f'href="/-/capture/{capture["id"]}"' in html
    removed = get(ds, f"/monitor/articles/{built.img_id}").text
    assert "Removed on" in removed and "(HTTP 404)" in removed


def test_html_in_article_fields_is_shown_as_text(ds, built):
    pages = [
        f"/monitor/articles/{built.script_id}",
        f"/monitor/articles/{built.img_id}",
        "/monitor/topic?topic=qantar",
        "/monitor/search?" + urlencode({"q": "январских событий"}),
        "/monitor/articles?_sort_desc=published",
        "/monitor/matches",
        "/monitor/topic_feed.atom?topic=qantar",
        "/",
    ]
    for path in pages:
        html = get(ds, path).text
        assert "<script>alert(1)</script>" not in html, path
        assert "<img src=x" not in html and "<script>document" not in html, path
        assert "<a href='javascript" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in get(ds, pages[0]).text
    assert "&lt;img src=x onerror=" in get(ds, pages[1]).text
    # No column is rendered as Markdown or HTML, whatever it is called.
    html = get(ds, "/monitor", sql="select '<b>x</b>' as note_markdown, '<i>y</i>' as text").text
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html and "<i>y</i>" not in html


def test_times_are_shown_in_the_display_zone(ds, rows, built, monkeypatch):
    article = rows("select id, published, fetched from articles where id = ?", [built.edited_id])[0]
    assert article["published"].endswith("+06:00") and article["fetched"].endswith("+00:00")
    html = get(ds, "/monitor/articles", id=str(built.edited_id)).text
    fetched = datetime.fromisoformat(article["fetched"]).astimezone(ZoneInfo("Asia/Almaty"))
    shown = re.search(
        rf'<time datetime="{re.escape(article["fetched"])}"[^>]*>([^<]+)</time>', html
    )
    assert shown and shown.group(1).endswith(f"{fetched:%H:%M} UTC+5")
    published = datetime.fromisoformat(article["published"])
    assert f"{published:%H:%M} UTC+6</time>" in html  # Almaty kept UTC+6 until 2024
    monkeypatch.setattr(monitor_settings, "MONITOR_TIMEZONE", "UTC")
    html = get(ds, "/monitor/articles", id=str(built.edited_id)).text
    assert f"{datetime.fromisoformat(article['fetched']):%H:%M} UTC</time>" in html


def test_home_page_lists_topics_latest_matches_and_outlets(ds):
    html = get(ds, "/").text
    assert 'action="/monitor/search"' in html
    assert "/topics/qantar" in html and "/monitor/topic_feed.atom?topic=qantar" in html
    assert "Orda.kz" in html and "/-/dashboards/monitor" in html


def test_dashboard_renders_and_its_charts_run(ds):
    assert get(ds, "/-/dashboards/monitor").status_code == 200
    config = metadata()["plugins"]["datasette-dashboards"]["monitor"]
    for name, chart in config["charts"].items():
        sql = re.sub(r"\[\[.*?\]\]", "", chart["query"])
        response = get(ds, "/monitor.json?_shape=array", sql=sql)
        assert response.status_code == 200, (name, response.text[:500])
        assert response.json(), name
        filtered = re.sub(r"\[\[(.*?)\]\]", r"\1", chart["query"])
        response = get(
            ds,
            "/monitor.json?_shape=array",
            sql=filtered,
            topic="qantar",
            date_start="2022-01-01",
            date_end="2030-01-01",
        )
        assert response.status_code == 200, (name, response.text[:500])


def test_serve_runs_datasette_on_any_database_file(built, tmp_path):
    db_path = tmp_path / "news.sqlite"
    shutil.copy(built.path, db_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", str(db_path), "serve", "--port", str(port)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        body = _wait_for(
            f"http://127.0.0.1:{port}/monitor/search.json?_shape=array&q=%D0%BE%D2%9B%D0%B8%D2%93%D0%B0",
            server,
        )
        assert built.kazakh_id in {r["article_id"] for r in json.loads(body)}
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode()[-2000:]) from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_outlets_page_reads_without_sql(ds, rows):
    response = get(ds, "/outlets/")
    assert response.status_code == 200
    html = response.text
    assert "<h1>Outlets and their health</h1>" in html
    assert "Orda.kz" in html and '<span class="slug">orda</span>' in html
    for word in ("Run SQL", "Edit SQL", "Custom SQL", "last_status", "crawls_7_days"):
        assert word not in html, word
    (last,) = rows("select * from crawls where outlet = 'orda' order by id desc limit 1")
    assert f"{last['requests']:,} requests · {last['new']:,} new" in html
    assert 'href="/outlets/"' in get(ds, "/").text
