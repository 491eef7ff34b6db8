"""Matching stored articles (monitor.matching): a rematch and a crawl writing at the same time,
and a topic file edited while a crawl runs. Real SQLite files, two connections."""

from pathlib import Path

from monitor import db, matching
from monitor.topics import load_topics, match_article

ROOT = Path(__file__).resolve().parent.parent
REPORT = {
    "title": "Сенат одобрил закон об амнистии участникам январских событий",
    "lead": "",
    "text": "Закон об амнистии для участников январских событий вступает в силу.",
    "lang": "ru",
}


def store(database, number: int, matches) -> int:
    fields = dict(REPORT, url=f"https://example.kz/{number}", outlet="orda", source="crawl")
    fields["text"] += f" Номер {number}."
    with db.writing(database):
        _, article_id = db.save_article(database, fields)
        db.save_matches(database, article_id, matches)
    return article_id


def test_articles_a_crawl_stores_during_a_rematch_end_up_matched_with_the_new_topics(tmp_path):
    path = tmp_path / "monitor.db"
    rematching = db.open_db(path)
    crawl = db.open_db(path)  # a second connection, as a crawl process has
    for number in range(1200):
        store(crawl, number, [])  # matched by nobody: an old topic file without qantar
    topics = load_topics(ROOT / "seeds" / "topics.yml")
    assert match_article(topics, **{k: REPORT[k] for k in ("title", "lead", "text")})
    written = []

    def crawl_meanwhile(done: int, total: int, seconds: float) -> None:
        # Between two batches the crawl updates an article the rematch has passed and stores
        # a new one, both matched with the old topics (no match); a crawl ends, so twice.
        if len(written) == 2:
            return
        crawl.execute("UPDATE articles SET fetched = ? WHERE id = 1", [db.now()])
        written.append(store(crawl, 5000 + done, []))
        article = crawl.execute("SELECT url FROM articles WHERE id = 1").fetchone()[0]
        fields = dict(REPORT, url=article, outlet="orda", source="crawl", text="Изменено.")
        fields["title"] += f" ({done})"
        with db.writing(crawl):
            db.save_article(crawl, fields)
            db.save_matches(crawl, 1, [])

    result = matching.rematch(rematching, topics, crawl_meanwhile)
    assert result["articles"] == 1202 and len(written) == 2
    unmatched = rematching.execute(
        "SELECT a.id FROM articles a LEFT JOIN matches m ON m.article_id = a.id "
        "WHERE m.topic IS NULL"
    ).fetchall()
    assert unmatched == []


def test_a_topic_file_edited_during_a_crawl_is_noticed(tmp_path):
    path = tmp_path / "topics.yml"
    text = (ROOT / "seeds" / "topics.yml").read_text("utf-8")
    path.write_text(text, "utf-8")
    topic_file = matching.TopicFile(path)
    first = topic_file.current()
    assert first[0].threshold == 4
    printed = topic_file.current_fingerprint()
    path.write_text(text.replace("\n    threshold: 4\n", "\n    threshold: 5\n", 1), "utf-8")
    assert topic_file.current_fingerprint() != printed
    assert topic_file.current()[0].threshold == 5
    path.write_text("topics: [", "utf-8")  # broken mid-crawl: keep the last good topics
    assert topic_file.current()[0].threshold == 5
