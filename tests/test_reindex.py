"""The stemmed search index and its analyser version: stale indexes are reported and left alone,
`monitor reindex` rebuilds them, and a rebuild stopped half-way resumes and ends consistent.

Real SQLite files throughout; the commands run as subprocesses, as a user runs them."""

import socket
import sqlite3
import subprocess
import sys

import pytest
import Stemmer

from monitor import db, search_index
from monitor.errors import MonitorError
from monitor.text import analyser_version, stem_text, words
from tests.conftest import ROOT, clean_env, run_monitor

FIRST = ["Токаев", "Масимов", "Назарбаев", "Сагинтаев", "Кудебаев"]
TOPICS = ["беспорядки", "митинги", "миротворцы", "задержания", "пожары"]


def article(i: int, **extra) -> dict:
    return {
        "url": f"https://example.kz/news/{i}/",
        "outlet": "example",
        "lang": "ru",
        "title": f"Заметка номер {i}",
        "lead": "",
        "text": f"{FIRST[i % 5]} говорил о том, что {TOPICS[i % 5]} закончились. Метка{i}слово.",
        **extra,
    }


def store(database, *articles) -> list[int]:
    ids = []
    with db.writing(database):
        for a in articles:
            ids.append(db.save_article(database, a)[1])
    return ids


def found(database, query: str) -> set[int]:
    """Article ids the stemmed index finds for a person's words (all of them must occur)."""
    keys = stem_text(query).split()
    fts = " AND ".join(f'"{k}"' for k in keys)
    rows = database.execute(
        "SELECT rowid FROM articles_stem_fts WHERE articles_stem_fts MATCH ?", [fts]
    ).fetchall()
    return {r[0] for r in rows}


def snowball(text: str) -> str:
    """Keys as the analyser before versions were recorded wrote them (Snowball Russian)."""
    stemmer = Stemmer.Stemmer("russian")
    return " ".join(stemmer.stemWords(words(text)))


def legacy_db(path, count: int = 40):
    """A database as an earlier release left it: articles indexed by Snowball alone, and no
    record of the analyser (the m012_analyser migration has not run yet)."""
    database = db.open_db(path)
    store(database, *(article(i) for i in range(count)))
    database.execute("DROP TABLE articles_stem_fts")
    database.execute(
        "CREATE VIRTUAL TABLE articles_stem_fts USING fts5("
        f"title, lead, text, content='', tokenize='{db.FTS_TOKENIZE}')"
    )
    for row in database.execute("SELECT id, title, lead, text FROM articles").fetchall():
        database.execute(
            "INSERT INTO articles_stem_fts (rowid, title, lead, text) VALUES (?, ?, ?, ?)",
            [row[0], *(snowball(v or "") for v in row[1:])],
        )
    database.execute("DROP TABLE stem_index")
    database.execute("DELETE FROM _sqlite_migrations WHERE name = 'm012_analyser'")
    database.conn.close()
    return db.open_db(path)  # the upgrade: the migration runs on a database with articles


def integrity_ok(database) -> bool:
    try:
        database.execute(
            "INSERT INTO articles_stem_fts (articles_stem_fts) VALUES ('integrity-check')"
        )
    except sqlite3.DatabaseError:
        return False
    return True


def test_a_new_database_is_indexed_by_this_analyser(db_path):
    database = db.open_db(db_path)
    assert search_index.state(database).version == analyser_version()
    assert search_index.stale_warning(database) is None
    ids = store(database, *(article(i) for i in range(10)))
    # Every case of a surname, and a fleeting vowel, find the same articles.
    assert found(database, "Токаев") == found(database, "Токаева") == found(database, "Токаевым")
    assert found(database, "Токаев") == {ids[0], ids[5]}
    assert found(database, "беспорядок") == found(database, "беспорядки") == {ids[0], ids[5]}


def test_an_upgraded_database_is_stale_and_status_says_so_in_one_line(db_path):
    database = legacy_db(db_path)
    state = search_index.state(database)
    assert state.version == search_index.LEGACY_VERSION and not state.current
    # The old keys: the nominative surname and the fleeting vowel miss.
    assert found(database, "беспорядок") == set()
    result = run_monitor("--db", str(db_path), "status")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "search index" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("Warning:") and "monitor reindex" in warnings[0]


def test_a_stale_index_is_not_written_and_reindex_brings_every_article_in(db_path):
    database = legacy_db(db_path)
    (new_id,) = store(database, article(100, text="Беспорядок в Жаңаөзен, сообщил Тоқаев."))
    # Nothing was written into the index built by the other analyser.
    assert new_id not in found(database, "Жанаозен")
    assert new_id not in {r[0] for r in database.execute("SELECT rowid FROM articles_stem_fts")}

    result = run_monitor("--db", str(db_path), "reindex", "--batch", "7")
    assert result.returncode == 0, result.stderr
    assert "rebuilt" in result.stdout and "41 articles" in result.stdout
    assert "reindexed 7/41 articles" in result.stderr  # a log line per batch off a terminal

    database = db.open_db(db_path)
    assert search_index.state(database).current
    assert integrity_ok(database)
    assert found(database, "Жанаозен") == found(database, "Жаңаөзен") == {new_id}
    assert new_id in found(database, "Токаев")
    assert found(database, "беспорядок") == found(database, "беспорядки")
    assert len(found(database, "беспорядок")) == 9  # 8 of the 40, and the new one
    assert not database.execute(
        "SELECT 1 FROM sqlite_master WHERE name = ?", [search_index.NEXT]
    ).fetchone()
    status = run_monitor("--db", str(db_path), "status")
    assert "search index" not in status.stderr


class Stop(Exception):
    pass


def test_a_rebuild_stopped_half_way_resumes_and_ends_consistent(db_path):
    database = legacy_db(db_path, count=50)

    def crash_after_two_batches(done, total, seconds):
        if done >= 20:
            raise Stop

    with pytest.raises(Stop):
        search_index.reindex(database, batch=10, progress=crash_after_two_batches)
    state = search_index.state(database)
    assert state.version == search_index.LEGACY_VERSION  # the old index still serves searches
    assert state.building == analyser_version() and state.built_upto == 20
    assert found(database, "беспорядк") != set()  # old keys, still answering
    assert "resumes there" in search_index.stale_warning(database)

    # Meanwhile a crawl changes an article the rebuild has passed, and one it has not, and
    # stores a new one.
    store(
        database,
        article(3, text="Новый текст про Жаңаөзен."),
        article(30, text="Другой новый текст про Алма-Ату."),
        article(60),
    )

    resumed = search_index.reindex(database, batch=10)
    assert resumed["status"] == "rebuilt" and resumed["resumed_after"] == 20
    assert resumed["articles"] == 31  # 30 left of the 50, and the new one
    assert search_index.state(database).current
    assert integrity_ok(database)
    assert found(database, "Жанаозен") == {4}  # article 3 is the 4th row
    assert found(database, "Алматы") == {31}
    assert 4 not in found(database, "говорил")  # the replaced text is gone from the index
    assert len(found(database, "говорил")) == 49
    for i in (0, 25, 49):
        assert found(database, f"Метка{i}слово") == {i + 1}


def test_reindex_when_up_to_date_does_nothing_unless_forced(db_path):
    database = db.open_db(db_path)
    store(database, *(article(i) for i in range(5)))
    database.conn.close()
    result = run_monitor("--db", str(db_path), "reindex")
    assert result.returncode == 0 and "up to date" in result.stdout
    forced = run_monitor("--db", str(db_path), "reindex", "--force")
    assert forced.returncode == 0 and "rebuilt" in forced.stdout and "5 articles" in forced.stdout
    database = db.open_db(db_path)
    assert integrity_ok(database) and found(database, "Токаевым") == {1}


def test_reindex_refuses_a_bad_batch_size_with_a_one_line_error(db_path):
    result = run_monitor("--db", str(db_path), "reindex", "--batch", "0")
    assert result.returncode == 2
    assert "Error" in result.stderr and "Traceback" not in result.stderr


def test_serve_and_crawl_warn_once_about_a_stale_index(db_path):
    legacy_db(db_path, count=3).conn.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]  # nothing listens here: the crawl fails at once
    crawl = run_monitor(
        "--db", str(db_path), "crawl", "orda", "--base-url", f"http://127.0.0.1:{free}",
        "-s", "RETRY_TIMES=0", timeout=120,
    )  # fmt: skip
    lines = crawl.stderr.splitlines()
    warnings = [line for line in lines if line.startswith("Warning: the search index")]
    assert len(warnings) == 1 and lines.index(warnings[0]) < lines.index("crawling orda ...")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", str(db_path), "serve", "--port", str(port)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = serve.stderr.readline()
    finally:
        serve.terminate()
        serve.wait(timeout=10)
    assert first.startswith("Warning: the search index") and "monitor reindex" in first


def test_two_rebuilds_at_once_never_write_an_article_twice(db_path):
    database = legacy_db(db_path, count=30)
    other = db.open_db(db_path)

    def the_other_one_overtakes(done, total, seconds):
        if done == 10:  # while this rebuild is between batches, another one runs to the end
            search_index.reindex(other, batch=7)

    with pytest.raises(MonitorError, match="another `monitor reindex`"):
        search_index.reindex(database, batch=10, progress=the_other_one_overtakes)
    assert search_index.state(database).current
    assert integrity_ok(database)
    assert len(found(database, "говорил")) == 30
