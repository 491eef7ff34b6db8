"""End to end: `scrapy crawl orda` against a replica of Orda.kz served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer, Reply
from tests.conftest import (
    FAST,
    ROOT,
    SINCE,
    article_requests,
    assert_stored_exactly,
    clean_env,
    expected_articles,
    scrapy_crawl,
)


@pytest.fixture
def orda():
    with ReplicaServer(OrdaSite()) as server:
        yield server


def crawl(server: ReplicaServer, db_path, *extra: str, **kwargs) -> subprocess.CompletedProcess:
    result = scrapy_crawl(
        "orda", db_path, f"base_url={server.origin}", f"since={SINCE}", *extra, **kwargs
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_first_crawl_stores_every_article_once_with_exact_fields(orda, db_path):
    site = orda.site
    crawl(orda, db_path)
    expected = expected_articles(site)
    assert len(expected) >= 30
    assert_stored_exactly(sqlite_utils.Database(db_path), site, expected, "orda")


def test_edge_cases_are_failures_or_never_requested(orda, db_path):
    site = orda.site
    crawl(orda, db_path)
    database = sqlite_utils.Database(db_path)
    failures = {row["url"]: row for row in database["failures"].rows}
    for article in site.articles:
        if article.expect == "failure":
            assert article.url in failures, article.note
            assert failures[article.url]["reason"], article.note
    statuses = {failures[a.url]["status"] for a in site.articles if a.expect == "failure"}
    assert {404, 410} <= statuses
    assert orda.hits("__trashed") == 0
    old = [a for a in site.articles if a.published < SINCE]
    assert old and not any(orda.hits(re.escape(a.path)) for a in old)
    (run,) = database["crawls"].rows
    assert run["outlet"] == "orda" and run["status"] == "ok"
    assert run["new"] == database["articles"].count
    assert run["failed"] == database["failures"].count
    assert run["requests"] == len(orda.log)


def test_second_crawl_fetches_no_article_and_edits_make_versions(orda, db_path):
    site = orda.site
    crawl(orda, db_path)
    first_count = sqlite_utils.Database(db_path)["articles"].count
    orda.clear_log()

    crawl(orda, db_path)
    assert article_requests(orda) == []
    assert any(r.status == 304 for r in orda.log), "feeds and sitemaps are asked conditionally"
    database = sqlite_utils.Database(db_path)
    assert database["articles"].count == first_count
    assert [r["status"] for r in database["crawls"].rows] == ["ok", "ok"]

    edited = expected_articles(site)[3]
    old_title = edited.title
    site.edit_article(
        edited.id,
        title=old_title + " (обновлено)",
        add_paragraph="Редакция дополнила материал новыми сведениями от источников.",
        modified="2022-03-01T10:00:00+06:00",
    )
    orda.clear_log()
    crawl(orda, db_path)
    assert article_requests(orda) == [edited.path]
    database = sqlite_utils.Database(db_path)
    row = next(database["articles"].rows_where("url = ?", [edited.url]))
    assert row["title"] == old_title + " (обновлено)"
    assert "новыми сведениями" in row["text"]
    (version,) = database["versions"].rows_where("article_id = ?", [row["id"]])
    assert version["title"] == old_title
    assert "новыми сведениями" not in version["text"]
    assert database["articles"].count == first_count
    last = list(database["crawls"].rows)[-1]
    assert (last["new"], last["updated"]) == (0, 1)


def test_redirect_and_tracking_duplicates_are_stored_once(orda, db_path):
    site = orda.site
    crawl(orda, db_path)
    database = sqlite_utils.Database(db_path)
    urls = [row["url"] for row in database["articles"].rows]
    assert len(urls) == len(set(urls))
    assert not any("utm_" in u for u in urls)
    moved = [a for a in site.articles if "new-slug" in a.path]
    assert moved and moved[0].url in urls
    assert not any("old-slug" in u for u in urls)
    aliases = {row["url"] for row in database["aliases"].rows}
    assert any("old-slug" in u for u in aliases)


class MetaRefreshOrda(OrdaSite):
    """The moved article's old address answers 200 with a page that sends the browser on with
    <meta http-equiv="refresh"> (as some CMSs do), not with a 301."""

    def reply(self, method, path, query, headers):
        if path == "/old-slug-400950/":
            body = (
                '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
                '<meta http-equiv="Refresh" content="0; URL=/new-slug-400950/">'
                "<title>Orda.kz</title></head><body><p>Материал перенесён.</p></body></html>"
            )
            return Reply(200, body.encode(), {"Content-Type": "text/html; charset=UTF-8"})
        return super().reply(method, path, query, headers)


def test_a_meta_refresh_page_is_followed_like_a_redirect(db_path):
    with ReplicaServer(MetaRefreshOrda()) as server:
        crawl(server, db_path)
        site = server.site
        database = sqlite_utils.Database(db_path)
        assert_stored_exactly(database, site, expected_articles(site), "orda")
        moved = next(a for a in site.articles if "new-slug" in a.path)
        aliases = {row["url"]: row["article_id"] for row in database["aliases"].rows}
        (row,) = database["articles"].rows_where("url = ?", [moved.url])
        assert aliases[server.origin + "/old-slug-400950/"] == row["id"]
        assert not list(database["failures"].rows_where("url like ?", ["%old-slug%"]))


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def extraction_workers(pid: int) -> list[int]:
    """The multiprocessing workers among `pid`'s descendants (not its resource tracker)."""
    found = []
    for child in descendants(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class SlowOrda(OrdaSite):
    def reply(self, method, path, query, headers):
        answer = super().reply(method, path, query, headers)
        if re.search(self.article_path_regex, path):
            answer.delay = 0.25
        return answer


def slow_crawl(server: ReplicaServer, db_path, **popen) -> subprocess.Popen:
    """`scrapy crawl orda` of a slow replica, one request at a time, started in the background."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", "orda"]
    cmd += ["-a", f"base_url={server.origin}", "-a", f"since={SINCE}"]
    for key, value in {**FAST, "CONCURRENT_REQUESTS_PER_DOMAIN": "1"}.items():
        cmd += ["-s", f"{key}={value}"]
    cmd += ["-s", f"MONITOR_DB={db_path}"]
    return subprocess.Popen(cmd, cwd=ROOT, env=clean_env(), stdout=subprocess.DEVNULL, **popen)


def wait_for_articles(db_path, count: int, timeout: float = 60) -> int:
    """Wait until the database holds `count` articles; return how many it holds."""
    stored = 0
    deadline = time.monotonic() + timeout
    while stored < count and time.monotonic() < deadline:
        time.sleep(0.2)
        if db_path.exists():
            try:
                database = sqlite_utils.Database(db_path)
                stored = database.execute("select count(*) from articles").fetchone()[0]
            except Exception:
                stored = 0
    return stored


def test_a_crawl_killed_half_way_keeps_its_articles_and_the_next_completes(db_path):
    with ReplicaServer(SlowOrda()) as server:
        proc = slow_crawl(server, db_path, stderr=subprocess.DEVNULL)
        wait_for_articles(db_path, 5)
        workers = descendants(proc.pid)
        assert workers, "extraction runs in worker processes"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)], "workers outlived their crawl"
        kept = sqlite_utils.Database(db_path)["articles"].count
        assert 5 <= kept < len(expected_articles(server.site))

        crawl(server, db_path)
        database = sqlite_utils.Database(db_path)
        urls = [row["url"] for row in database["articles"].rows]
        assert sorted(urls) == sorted(a.url for a in expected_articles(server.site))


def test_an_extraction_worker_that_dies_loses_no_article(db_path):
    with ReplicaServer(SlowOrda()) as server:
        proc = slow_crawl(server, db_path, stderr=subprocess.PIPE, text=True)
        assert wait_for_articles(db_path, 3) >= 3
        workers = extraction_workers(proc.pid)
        assert workers, "extraction runs in worker processes"
        os.kill(workers[0], signal.SIGKILL)  # as the kernel's out-of-memory killer would
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-4000:]
        assert "an extraction worker died; restarting the pool" in stderr
        site = server.site
        database = sqlite_utils.Database(db_path)
        assert_stored_exactly(database, site, expected_articles(site), "orda")
        reasons = [row["reason"] for row in database["failures"].rows]
        assert not [r for r in reasons if "extraction" in r], reasons


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["since=yesterday"], "since='yesterday' is not a date"),
        (["base_url=orda.kz"], "base_url='orda.kz' is not an http(s) origin"),
        (["colour=red"], "unknown spider argument 'colour'"),
    ],
)
def test_bad_arguments_stop_before_any_request(orda, db_path, args, message):
    if not any(a.startswith("base_url") for a in args):
        args.append(f"base_url={orda.origin}")
    result = scrapy_crawl("orda", db_path, *args)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and message in last
    assert "Traceback" not in result.stderr
    assert orda.log == []


def test_unwritable_database_stops_before_any_request(orda, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = scrapy_crawl("orda", blocker / "monitor.db", f"base_url={orda.origin}")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: cannot create the folder of database")
    )
    assert orda.log == []


def test_a_transient_failure_is_fetched_again_on_the_next_crawl(orda, db_path):
    site = orda.site
    flaky = next(a for a in site.articles if "503" in a.note)
    crawl(orda, db_path, settings={"RETRY_TIMES": "0"})
    database = sqlite_utils.Database(db_path)
    assert [r["status"] for r in database["failures"].rows_where("url = ?", [flaky.url])] == [503]
    assert not list(database["articles"].rows_where("url = ?", [flaky.url]))
    orda.clear_log()

    crawl(orda, db_path)
    assert article_requests(orda) == [flaky.path]
    (row,) = sqlite_utils.Database(db_path)["articles"].rows_where("url = ?", [flaky.url])
    assert row["title"] == flaky.title


def test_a_page_over_the_size_cap_is_a_failure_and_the_crawl_goes_on(orda, db_path):
    site = orda.site
    huge = next(a for a in site.articles if "huge" in a.note)
    crawl(orda, db_path, settings={"DOWNLOAD_MAXSIZE": "1000000", "DOWNLOAD_WARNSIZE": "0"})
    database = sqlite_utils.Database(db_path)
    (failure,) = database["failures"].rows_where("url = ?", [huge.url])
    assert "too large" in failure["reason"]
    assert database["articles"].count == len(expected_articles(site)) - 1


def test_scrapy_feed_export_writes_one_clean_record_per_stored_article(orda, db_path, tmp_path):
    out = tmp_path / "articles.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "orda", "-O", str(out)]
        + ["-a", f"base_url={orda.origin}", "-a", f"since={SINCE}"]
        + [arg for key, value in {**FAST, "MONITOR_DB": str(db_path)}.items()
           for arg in ("-s", f"{key}={value}")],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    database = sqlite_utils.Database(db_path)
    stored = {row["url"]: row for row in database["articles"].rows}
    assert sorted(r["url"] for r in records) == sorted(stored)  # no failure, no duplicate
    assert database["failures"].count > 0
    matched = {r["url"] for r in records if r["topics"]}
    assert matched == {
        row["url"]
        for row in database.query("select url from articles join matches on id = article_id")
    }
    for record in records:
        assert set(record) == {
            "url", "outlet", "lang", "title", "lead", "text", "published", "modified",
            "author", "tags", "topics",
        }  # fmt: skip
        row = stored[record["url"]]
        assert record["title"] == row["title"] and record["text"] == row["text"]
        assert record["published"] == row["published"] and record["tags"] == json.loads(row["tags"])
