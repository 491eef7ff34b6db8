"""Rechecks and removals, end to end: crawl the Orda replica, let the site edit, delete,
redirect and replace articles (and fail transiently), run `monitor recheck` twice, and read the
result in the database, in Datasette and in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlite_utils

from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer, Reply
from monitor.serve import datasette
from tests.conftest import ROOT, SINCE, expected_articles, run_monitor, scrapy_crawl

ATOM = "{http://www.w3.org/2005/Atom}"
ADDED = "Редакция позже уточнила: число задержанных выросло до двенадцати человек."
SOFT_404 = (
    "<!doctype html><html lang='ru'><head><meta charset='utf-8'><title>Материал удалён — Orda.kz"
    "</title></head><body><h1>Материал удалён</h1><p>Запрашиваемый материал был удалён "
    "редакцией.</p><p><a href='/'>На главную</a></p></body></html>"
)


class FaultyOrda(OrdaSite):
    """The Orda replica, with a home page, and faults set per article path."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: dict[str, str] = {}

    def reply(self, method, path, query, headers):
        if path == "/robots.txt":
            forbidden = [p for p, fault in self.faults.items() if fault == "robots"]
            rules = "".join(f"Disallow: {p}\n" for p in forbidden)
            body = f"User-agent: *\nDisallow: /wp-admin/\n{rules}"
            return Reply(200, body.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        fault = self.faults.get(path)
        if fault == "404":
            return Reply(404, b"<h1>404 Not Found</h1>", {"Content-Type": "text/html"})
        if fault == "home":
            return Reply(301, b"", {"Location": self.origin + "/"})
        if fault == "soft404":
            return Reply(200, SOFT_404.encode(), {"Content-Type": "text/html; charset=utf-8"})
        if fault == "503":
            return Reply(503, b"busy", {"Content-Type": "text/plain", "Retry-After": "1"})
        if path == "/":
            page = "<!doctype html><html><head><title>Orda.kz</title></head><body>Главная</body>"
            return Reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        return super().reply(method, path, query, headers)


@dataclass
class Rechecked:
    path: Path
    ids: dict[str, int] = field(default_factory=dict)  # fault -> article id
    first: str = ""
    second: str = ""
    requests: list = field(default_factory=list)


@pytest.fixture(scope="module")
def rechecked(tmp_path_factory) -> Rechecked:
    path = tmp_path_factory.mktemp("recheck") / "monitor.db"
    built = Rechecked(path)
    site = FaultyOrda()
    with ReplicaServer(site) as server:
        result = scrapy_crawl("orda", path, f"base_url={server.origin}", f"since={SINCE}")
        assert result.returncode == 0, result.stderr[-3000:]
        database = sqlite_utils.Database(path)
        matched = {
            r["url"]: r["id"]
            for r in database.query("select url, id from articles join matches on id = article_id")
        }
        stored = [a for a in expected_articles(site) if a.url in matched and len(a.paragraphs) > 1]
        faults = ["404", "home", "soft404", "robots", "503", "edit"]
        assert len(stored) >= len(faults)
        plan = dict(zip(faults, stored, strict=False))
        for fault, article in plan.items():
            built.ids[fault] = matched[article.url]
            if fault == "edit":
                site.edit_article(
                    article.id, add_paragraph=ADDED, modified=article.modified or article.published
                )
            else:
                site.faults[article.path] = fault
        server.clear_log()
        first = run_monitor("--db", str(path), "recheck", "orda", "--all", "--delay", "0")
        assert first.returncode == 0, first.stderr
        built.first = first.stdout
        second = run_monitor("--db", str(path), "recheck", "orda", "--all", "--delay", "0")
        assert second.returncode == 0, second.stderr
        built.second = second.stdout
        built.requests = server.log
    return built


def test_removals_need_two_permanent_answers(rechecked):
    assert "4 gone once (to confirm), 0 removed" in rechecked.first
    assert "0 gone once (to confirm), 4 removed" in rechecked.second
    database = sqlite_utils.Database(rechecked.path)
    removals = {r["article_id"]: r for r in database["removals"].rows}
    assert set(removals) == {rechecked.ids[k] for k in ("404", "home", "soft404", "robots")}
    gone = removals[rechecked.ids["404"]]
    assert (gone["reason"], gone["status"]) == ("gone", 404)
    home = removals[rechecked.ids["home"]]
    assert home["reason"] == "redirect to the home page or a section"
    assert home["final_url"].endswith(":" + home["url"].split(":")[2].split("/")[0] + "/")
    soft = removals[rechecked.ids["soft404"]]
    assert (soft["reason"], soft["status"]) == ("page says the material was removed", 200)
    robots = removals[rechecked.ids["robots"]]
    assert (robots["reason"], robots["status"]) == ("forbidden by robots.txt", None)
    assert robots["capture_id"] is None  # nothing was fetched
    forbidden = rechecked.ids["robots"]
    url = database["articles"].get(forbidden)["url"]
    assert not [r for r in rechecked.requests if url.endswith(r.path) and r.path != "/"]
    for removal in removals.values():
        evidence = json.loads(removal["evidence"])
        assert len(evidence) == 2  # both checks
        if removal["reason"] == "forbidden by robots.txt":
            continue
        capture = database["captures"].get(removal["capture_id"])
        assert capture["article_id"] == removal["article_id"] and capture["kind"] == "recheck"
    # The articles and what was archived of them are kept.
    for article_id in removals:
        assert database["articles"].get(article_id)["text"]
        assert database.execute(
            "select count(*) from captures where article_id = ? and kind = 'crawl'", [article_id]
        ).fetchone()[0]


def test_two_transient_failures_are_not_a_removal(rechecked):
    database = sqlite_utils.Database(rechecked.path)
    article_id = rechecked.ids["503"]
    assert not list(database["removals"].rows_where("article_id = ?", [article_id]))
    state = database["rechecks"].get(article_id)
    assert state["transient"] == 2 and state["gone"] is None
    assert "transient failure" in rechecked.first and "transient failure" in rechecked.second


def test_a_silent_edit_becomes_a_version_and_unchanged_pages_answer_304(rechecked):
    database = sqlite_utils.Database(rechecked.path)
    article_id = rechecked.ids["edit"]
    assert ADDED in database["articles"].get(article_id)["text"]
    (version,) = database["versions"].rows_where("article_id = ?", [article_id])
    assert version["replaced_by"] == "recheck" and ADDED not in version["text"]
    assert "edited: " in rechecked.first
    # Every check is conditional, the first too (with the ETag the crawl archived): the pages
    # that did not change answer 304, every time.
    checks = [r for r in rechecked.requests if r.path not in ("/", "/robots.txt")]
    assert checks and all(r.headers.get("If-None-Match") for r in checks)
    unchanged = [r for r in checks if r.status == 304]
    assert len(unchanged) >= 2 * (len(expected_articles(OrdaSite())) - 6)
    assert all(r.user_agent.startswith("monitor/") for r in rechecked.requests)


def test_bad_arguments_are_one_line_errors(db_path):
    for args in (["recheck", "nowhere"], ["recheck", "--budget", "0"]):
        result = run_monitor("--db", str(db_path), *args)
        assert result.returncode == 2
        assert "Error" in result.stderr and "Traceback" not in result.stderr


# --- Datasette ---------------------------------------------------------------------------------


def get(ds, path: str):
    return asyncio.run(ds.client.get(path))


def test_article_pages_show_removals_edits_and_captures(rechecked):
    ds = datasette(rechecked.path)
    removed = get(ds, f"/monitor/articles/{rechecked.ids['404']}")
    assert removed.status_code == 200
    assert "Removed on" in removed.text and "(HTTP 404)" in removed.text
    edited = get(ds, f"/monitor/articles/{rechecked.ids['edit']}").text
    assert "Edited 1 time after publication" in edited
    assert "<ins>" in edited and "двенадцати" in edited.split("<ins>", 1)[1]
    assert "Archived captures" in edited

    capture = next(
        sqlite_utils.Database(rechecked.path)["captures"].rows_where(
            "article_id = ? and status = 200 and kind = 'crawl'", [rechecked.ids["edit"]]
        )
    )
    assert f'/-/capture/{capture["id"]}"' in edited
    page = get(ds, f"/-/capture/{capture['id']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    assert page.headers["content-disposition"].startswith("attachment")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert b"<html" in page.content.lower()
    record = get(ds, f"/-/capture/{capture['id']}.warc.gz")
    assert record.headers["content-type"] == "application/warc"
    assert record.content[:2] == b"\x1f\x8b"
    assert get(ds, "/-/capture/999999").status_code == 404


def test_feeds_of_removals_and_edits_per_topic(rechecked):
    ds = datasette(rechecked.path)
    feed = get(ds, "/monitor/removals_feed.atom?topic=qantar")
    assert feed.status_code == 200
    entries = ET.fromstring(feed.content).findall(f"{ATOM}entry")
    assert len(entries) == 4
    assert all("removed:" in e.find(f"{ATOM}title").text for e in entries)
    edited = get(ds, "/monitor/edited.json?_shape=array&topic=qantar").json()
    assert [row["article_id"] for row in edited] == [rechecked.ids["edit"]]
    assert get(ds, "/monitor/edited.atom?topic=qantar").status_code == 200
    assert get(ds, "/monitor/removals_feed.atom?topic=nothing").status_code == 200


# --- screenshots ---------------------------------------------------------------------------------


def test_screenshots_of_an_edited_and_a_removed_article(rechecked, tmp_path):
    from tests.test_browser import CHROMIUM, dom, screenshot

    assert CHROMIUM is not None, "chromium is not installed: run .ci/browser (make test does)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "--db",
            str(rechecked.path),
            "serve",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(origin + "/-/versions.json", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        edited = f"{origin}/monitor/articles/{rechecked.ids['edit']}"
        assert "<ins>" in dom(tmp_path, edited)
        screenshot(tmp_path, edited, "article-edited-diff.png", height=1800)
        removed = f"{origin}/monitor/articles/{rechecked.ids['404']}"
        assert "Removed on" in dom(tmp_path, removed)
        screenshot(tmp_path, removed, "article-removed.png", height=2000)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_scheduler_runs_the_due_rechecks(rechecked, tmp_path, caplog):
    from monitor import outlets, recheck, schedule
    from monitor.runner import CrawlRunner, RunConfig

    registry = outlets.load(ROOT / "seeds" / "outlets.yml")
    config = RunConfig(
        db=str(rechecked.path),
        outlets=str(ROOT / "seeds" / "outlets.yml"),
        topics=str(ROOT / "seeds" / "topics.yml"),
    )
    scheduler = schedule.build([registry["orda"]], CrawlRunner(config))
    job = scheduler.get_job("recheck")
    assert job is not None and job.func is recheck.scheduled
    assert job.args[-1] == ["orda"]
    # The job itself: nothing is due right after the two runs above, and it says so.
    with caplog.at_level("INFO", logger="monitor.recheck"):
        assert recheck.scheduled(*job.args) == 0
    assert "rechecked 0 articles" in caplog.text


def test_the_schedule_follows_publication_and_watches_matched_articles(tmp_path):
    from datetime import UTC, datetime, timedelta

    from monitor import db, recheck

    database = db.open_db(tmp_path / "monitor.db")
    published = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    ids = []
    with db.writing(database):
        for n in range(2):
            _, article_id = db.save_article(
                database,
                {
                    "url": f"https://orda.kz/a-{n}/",
                    "outlet": "orda",
                    "title": f"Заголовок {n}",
                    "text": "Текст статьи.",
                    "published": published.isoformat(),
                    "source": "crawl",
                },
            )
            ids.append(article_id)
        database.execute(
            "insert into matches (article_id, topic, score, evidence, matched) "
            "values (?, 'qantar', 5, '[]', ?)",
            [ids[0], db.now()],
        )
    assert recheck.plan(database) == 1  # only the matched article by default
    state = database["rechecks"].get(ids[0])
    assert state["due"] == (published + timedelta(hours=1)).isoformat()
    # Checked now (two hours after publication): the next turn is a day after publication.
    step, due = recheck._next_due(published, datetime.now(UTC))
    assert (step, due) == (1, (published + timedelta(days=1)).isoformat())
    assert recheck._next_due(published, published + timedelta(days=31)) == (4, None)
    assert recheck.plan(database, "all") == 1  # and, configurably, every article


def test_what_counts_as_gone():
    from monitor import outlets
    from monitor.recheck import Answer, classify

    orda = outlets.load(ROOT / "seeds" / "outlets.yml")["orda"]
    url = "https://orda.kz/tokaev-podpisal-ukaz-400100/"

    def page(status, body, final=url):
        hops = [(301, url), (status, final)] if final != url else [(status, url)]
        return Answer(status, final, body.encode(), [], hops=hops)

    removed_kk = "<html><head><title>Orda.kz</title></head><body><h1>Материал жойылды</h1></body>"
    assert classify(page(200, removed_kk), orda, url) == "page says the material was removed"
    # An article that reports on a removed material is not itself removed.
    report = (
        "<html><head><title>Суд обязал удалить публикацию</title></head><body><h1>Суд обязал "
        "удалить публикацию</h1><p>Редакция сообщила: материал удалён по решению суда.</p>"
    )
    assert classify(page(200, report), orda, url) is None
    assert classify(page(200, "<p>Раздел</p>", "https://orda.kz/category/news/"), orda, url) == (
        "redirect to the home page or a section"
    )
    moved = "https://orda.kz/tokaev-podpisal-ukaz-o-pravitelstve-400100/"
    assert classify(page(200, "<h1>Токаев</h1>", moved), orda, url) is None  # a new slug
    assert classify(page(410, ""), orda, url) == "gone"
    for transient in (500, 503, 429):
        assert classify(page(transient, "busy"), orda, url) is None
    assert classify(Answer(None, url, error="timeout"), orda, url) is None
