"""The database layer on a real SQLite file: schema, upserts, versions, aliases, failures."""

import sqlite3

import pytest

from monitor import db
from monitor.errors import MonitorError

ARTICLE = {
    "url": "https://orda.kz/test-1/",
    "outlet": "orda",
    "lang": "ru",
    "title": "Январские события: итоги расследования",
    "lead": "Генпрокуратура подвела итоги.",
    "text": "Первый абзац о январских событиях.\nВторой абзац.",
    "published": "2022-01-10T14:30:00+06:00",
    "modified": None,
    "author": "Иван Петров",
    "tags": ["Казахстан", "Қаңтар"],
}


def test_schema_has_the_public_tables_and_columns(db_path):
    database = db.open_db(db_path)
    columns = {
        t: set(database[t].columns_dict) for t in ("articles", "versions", "failures", "crawls")
    }
    assert {
        "id",
        "url",
        "outlet",
        "lang",
        "title",
        "lead",
        "text",
        "published",
        "modified",
        "author",
        "tags",
        "fetched",
        "content_hash",
    } <= columns["articles"]
    assert {"article_id", "fetched", "title", "text", "content_hash"} <= columns["versions"]
    assert {"crawl_id", "url", "status", "reason", "at"} <= columns["failures"]
    assert {
        "id",
        "outlet",
        "started",
        "finished",
        "status",
        "requests",
        "new",
        "updated",
        "failed",
    } <= columns["crawls"]
    assert database["articles"].detect_fts() == "articles_fts"
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_open_db_twice_applies_migrations_once(db_path):
    db.open_db(db_path).close()
    database = db.open_db(db_path)
    assert database["_sqlite_migrations"].count == len(db.migrations._migrations)


def test_new_then_unchanged_then_updated_with_a_version(db_path):
    database = db.open_db(db_path)
    status, article_id = db.save_article(database, ARTICLE)
    assert status == "new"
    assert db.save_article(database, ARTICLE) == ("unchanged", article_id)
    assert database["versions"].count == 0
    edited = {
        **ARTICLE,
        "title": "Январские события: новые данные",
        "text": ARTICLE["text"] + "\nТретий.",
    }
    assert db.save_article(database, edited) == ("updated", article_id)
    row = database["articles"].get(article_id)
    assert row["title"] == "Январские события: новые данные"
    (version,) = database["versions"].rows
    assert version["article_id"] == article_id
    assert version["title"] == ARTICLE["title"]
    assert version["text"] == ARTICLE["text"]
    assert version["content_hash"] != row["content_hash"]
    assert database["articles"].count == 1


def test_tags_are_a_json_array_and_full_text_search_finds_words(db_path):
    database = db.open_db(db_path)
    db.save_article(database, ARTICLE)
    row = next(database["articles"].rows)
    assert row["tags"] == '["Казахстан", "Қаңтар"]'
    hits = list(database["articles"].search("расследования"))
    assert [h["url"] for h in hits] == [ARTICLE["url"]]


def test_aliases_make_other_urls_known(db_path):
    database = db.open_db(db_path)
    _, article_id = db.save_article(database, ARTICLE, aliases=["https://orda.kz/old-1/"])
    assert db.find_article(database, "https://orda.kz/old-1/")["id"] == article_id
    assert db.find_article(database, ARTICLE["url"])["id"] == article_id
    assert db.find_article(database, "https://orda.kz/other-2/") is None


def test_permanent_failures_mark_urls_dead(db_path):
    database = db.open_db(db_path)
    crawl_id = db.start_crawl(database, "orda")
    db.save_failure(
        database,
        crawl_id=crawl_id,
        url="https://orda.kz/a-1/",
        status=503,
        reason="HTTP 503",
        permanent=False,
    )
    db.save_failure(
        database,
        crawl_id=crawl_id,
        url="https://orda.kz/b-2/",
        status=404,
        reason="HTTP 404",
        permanent=True,
    )
    assert not db.is_dead(database, "https://orda.kz/a-1/")
    assert db.is_dead(database, "https://orda.kz/b-2/")


def test_crawl_rows_record_outcome_and_counts(db_path):
    database = db.open_db(db_path)
    crawl_id = db.start_crawl(database, "orda")
    assert database["crawls"].get(crawl_id)["status"] == "running"
    db.finish_crawl(database, crawl_id, "ok", requests=10, new=3, updated=1, failed=2)
    row = database["crawls"].get(crawl_id)
    assert (row["status"], row["requests"], row["new"], row["updated"], row["failed"]) == (
        "ok",
        10,
        3,
        1,
        2,
    )
    assert row["finished"] >= row["started"]


@pytest.mark.parametrize("make_bad", ["parent_is_file", "path_is_dir"])
def test_unusable_database_path_is_a_one_line_error(tmp_path, make_bad):
    if make_bad == "parent_is_file":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "monitor.db"
    else:
        path = tmp_path
    with pytest.raises(MonitorError) as exc:
        db.open_db(path)
    assert "\n" not in str(exc.value) and str(path.name) in str(exc.value)


def test_a_file_that_is_not_a_database_is_refused_without_damage(db_path):
    db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(MonitorError, match="cannot use database"):
        db.open_db(db_path)
    assert db_path.read_bytes() == b"this is not sqlite" * 100


def test_a_locked_database_waits_then_reports(db_path):
    database = db.open_db(db_path)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    database.execute("PRAGMA busy_timeout = 100")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        with db.writing(database):
            db.save_article(database, ARTICLE)
    blocker.execute("ROLLBACK")
    assert db.save_article(database, ARTICLE)[0] == "new"
