"""`monitor search QUERY` finds what Datasette's search finds, in the same order."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest

from monitor import db as monitor_db
from monitor.serve import datasette
from tests.conftest import run_monitor

ARTICLES = [
    ("Токаеву доложили о беспорядках", "Президенту Токаеву доложили о ходе операции.", "ru"),
    ("Беспорядок в Жаңаөзен", "Жаңаөзенде наразылық акциясы басталды, Тоқаевтың үндеуі.", "kk"),
    ("Погода в Алма-Ате", "В Алма-Ате снег, беспорядки на дорогах.", "ru"),
    ("Курс тенге", "Нацбанк сообщил курс на сегодня.", "ru"),
]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    path = tmp_path_factory.mktemp("search") / "monitor.db"
    assert run_monitor("--db", str(path), "seed").returncode == 0
    database = monitor_db.open_db(path)
    with monitor_db.writing(database):
        for i, (title, text, lang) in enumerate(ARTICLES):
            monitor_db.save_article(
                database,
                {"url": f"https://example.kz/{i}", "outlet": "example", "lang": lang,
                 "title": title, "lead": "", "text": text, "published": f"2022-01-0{i + 1}",
                 "source": "crawl"},
            )  # fmt: skip
    database.close()
    return path


def titles_in_datasette(path, q: str) -> list[str]:
    ds = datasette(path)
    url = "/monitor/search.json?" + urlencode({"q": q, "_shape": "array"})
    response = asyncio.run(ds.client.get(url))
    assert response.status_code == 200, response.text[:500]
    return [row["title"] for row in response.json()]


@pytest.mark.parametrize(
    "q", ["Токаев", "беспорядок", "Жанаозен", "Алматы", '"январских событий"', "Токаев -беспорядок"]
)
def test_the_command_line_finds_what_datasette_finds(searched, q):
    result = run_monitor("--db", str(searched), "search", q)
    expected = titles_in_datasette(searched, q)
    assert expected, q
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    found = [line for line in lines if line and not line.startswith("  ")]
    assert found == expected
    assert result.stderr.strip().endswith(
        f"{len(expected)} article" + ("" if len(expected) == 1 else "s")
    )


def test_topic_filter_and_nothing_found(searched):
    result = run_monitor("--db", str(searched), "search", "Токаев", "--topic", "qantar")
    assert result.returncode == 0
    assert all("qantar" in line for line in result.stdout.splitlines() if " · " in line)
    nothing = run_monitor("--db", str(searched), "search", "жирафы")
    assert nothing.returncode == 1 and nothing.stderr.strip() == "nothing found for жирафы"
