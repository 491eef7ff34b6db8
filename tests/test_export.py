"""`monitor export TOPIC`: every match with its text, in CSV, JSON Lines and JSON, no row cap."""

from __future__ import annotations

import csv
import io
import json

import pytest

from monitor import db
from tests.conftest import run_monitor


@pytest.fixture
def exported_db(db_path):
    """250 matching articles (one undated), 3 articles of another topic, 2 that match nothing."""
    database = db.open_db(db_path)
    with db.writing(database):
        for i in range(255):
            published = None if i == 7 else f"2022-01-{1 + i % 28:02d}T10:{i % 60:02d}:00+06:00"
            article_id = db.save_article(
                database,
                {
                    "url": f"https://example.kz/news/{i}",
                    "outlet": "orda" if i % 2 else "sputnik_kz",
                    "lang": "ru" if i % 3 else "kk",
                    "title": f'Заголовок {i}, "в кавычках"',
                    "lead": f"Лид {i}",
                    "text": f"Текст {i}\nвторая строка, с запятой",
                    "published": published,
                    "source": "crawl",
                },
            )[1]
            topic = "qantar" if i < 250 else ("other" if i < 253 else None)
            if topic:
                database.execute(
                    "insert into matches (article_id, topic, score, evidence, matched) "
                    "values (?, ?, ?, '[]', '2026-12-01T00:00:00+00:00')",
                    [article_id, topic, 5.0 + i],
                )
    database.close()
    return db_path


def export(db_path, *args):
    result = run_monitor("--db", str(db_path), "export", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_csv_has_every_match_with_its_text_and_no_cap(exported_db):
    rows = list(csv.DictReader(io.StringIO(export(exported_db, "qantar", "--format", "csv"))))
    assert len(rows) == 250
    assert {r["topic"] for r in rows} == {"qantar"}
    first = rows[0]
    assert set(first) >= {"title", "lead", "text", "url", "outlet", "published", "score"}
    by_url = {r["url"]: r for r in rows}
    assert by_url["https://example.kz/news/3"]["text"] == "Текст 3\nвторая строка, с запятой"
    assert by_url["https://example.kz/news/3"]["title"] == 'Заголовок 3, "в кавычках"'
    published = [r["published"] for r in rows]
    assert published[-1] == "" and rows[-1]["url"] == "https://example.kz/news/7"
    assert published[:-1] == sorted(published[:-1], reverse=True)


def test_jsonl_and_json_hold_the_same_records(exported_db):
    lines = export(exported_db, "qantar", "--format", "jsonl").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 250
    assert json.loads(export(exported_db, "qantar", "--format", "json")) == records
    assert records[-1]["published"] is None


def test_since_and_file_output(exported_db, tmp_path):
    out = tmp_path / "q.json"
    result = run_monitor(
        "--db", str(exported_db), "export", "qantar", "--since", "2022-01-20",
        "--format", "json", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = json.loads(out.read_text("utf-8"))
    assert records and all(r["published"] >= "2022-01-20" for r in records)
    assert f"exported {len(records)} articles of qantar to {out}" in result.stderr


def test_topic_names_are_case_insensitive_and_unknown_ones_are_refused(exported_db):
    assert len(export(exported_db, "QANTAR", "--format", "jsonl").splitlines()) == 250
    result = run_monitor("--db", str(exported_db), "export", "qantr")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: no matches for topic 'qantr'; topics with matches: other, qantar"
    )
