"""Full disks, killed crawls, locked databases: nothing stored is lost and every outcome is told.

Each test runs real crawl subprocesses against the generic replica on loopback, on a real SQLite
file: a full disk is a file size limit (RLIMIT_FSIZE) on the crawl process, a killed crawl gets a
real SIGKILL, and a locked database is held by a second process with BEGIN EXCLUSIVE.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import sqlite_utils

from monitor import db as monitor_db
from monitor import processes
from monitor.replica.generic import GenericSite
from monitor.replica.server import ReplicaServer, Reply, Site
from monitor.serve import datasette
from tests.conftest import FAST, ROOT, SINCE, clean_env, expected_articles


class SlowArticles(Site):
    """The generic replica, with article pages that answer only after `delay` seconds."""

    def __init__(self, delay: float, only: str | None = None):
        self.inner = GenericSite()
        self.articles = self.inner.articles
        self.article_path_regex = self.inner.article_path_regex
        self.delay = delay
        self.only = only  # one article path, or every article when None

    @Site.origin.setter
    def origin(self, value: str) -> None:
        self._origin = value.rstrip("/")
        self.inner.origin = value

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        reply = self.inner.reply(method, path, query, headers)
        if re.search(self.article_path_regex, path) and self.only in (None, path):
            reply.delay = self.delay
        return reply


@pytest.fixture
def outlet():
    with ReplicaServer(GenericSite()) as server:
        yield server


def crawl_cmd(server: ReplicaServer, db_path: Path, **settings: str) -> list[str]:
    cmd = [sys.executable, "-m", "monitor.commands", "tengrinews"]
    cmd += ["-a", f"base_url={server.origin}", "-a", f"since={SINCE}"]
    for key, value in {**FAST, "MONITOR_DB": str(db_path), **settings}.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def run(cmd: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        cwd=ROOT,
        env={**clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        **kwargs,
    )


def stored_urls(db_path: Path) -> set[str]:
    return {r["url"] for r in sqlite_utils.Database(db_path)["articles"].rows}


# -- item 5: a full disk -----------------------------------------------------------------------


def file_size_limit(limit: int):
    """preexec_fn: the process (and its workers) cannot write files beyond `limit` bytes; a
    write past it fails as on a full disk (SIGXFSZ ignored, so write() returns an error)."""

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_files


def test_full_disk_fails_the_crawl_and_the_next_one_stores_everything(outlet, db_path):
    monitor_db.open_db(db_path).close()  # the schema is written; the crawl writes to the WAL
    # A WAL file of 12 pages: room for the crawl's own row, not for its items. (The database
    # file is larger than that already; a crawl only appends to the WAL.)
    limit = 32 + 12 * (4096 + 24)
    expected = {a.url for a in expected_articles(outlet.site)}

    full = run(crawl_cmd(outlet, db_path), preexec_fn=file_size_limit(limit))
    assert full.returncode == 1, full.stderr[-3000:]
    assert "items could not be stored" in full.stderr
    lost = expected - stored_urls(db_path)
    assert lost, "the limit let every article through: the test proves nothing"
    database = sqlite_utils.Database(db_path)
    assert [r["status"] for r in database["crawls"].rows] != ["ok"]
    assert database["fetch_state"].count == 0  # no validator says "seen" for what was lost

    outlet.clear_log()
    room = run(crawl_cmd(outlet, db_path))
    assert room.returncode == 0, room.stderr[-3000:]
    assert stored_urls(db_path) == expected
    assert outlet.hits(r"^/sitemap-news-2022-01\.xml$") == 1
    assert not outlet.log or all(r.status != 304 for r in outlet.log if "sitemap-news" in r.path)
    runs = list(sqlite_utils.Database(db_path)["crawls"].rows)
    assert runs[0]["status"] in ("failed", "killed") and runs[-1]["status"] == "ok"
    assert runs[-1]["new"] == len(lost)


# -- item 8: killed crawls ---------------------------------------------------------------------


def test_a_killed_crawl_is_found_killed_by_status_crawl_health_and_the_next_crawl(db_path):
    with ReplicaServer(SlowArticles(delay=6)) as server:
        proc = subprocess.Popen(
            crawl_cmd(server, db_path),
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not article_requested(server) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert article_requested(server), "the crawl never reached an article"
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    database = sqlite_utils.Database(db_path)
    assert [r["status"] for r in database["crawls"].rows] == ["running"]

    status = run([sys.executable, "-m", "monitor", "--db", str(db_path), "status"])
    assert status.returncode == 0, status.stderr
    line = next(ln for ln in status.stdout.splitlines() if ln.startswith("tengrinews "))
    assert " killed " in line and "None" not in line
    (row,) = sqlite_utils.Database(db_path)["crawls"].rows
    assert (row["status"], row["pid"]) == ("killed", proc.pid)

    ds = datasette(db_path)
    response = asyncio.run(
        ds.client.get("/monitor/crawl_health.json?_shape=array&outlet=tengrinews")
    )
    health = {r["outlet"]: r for r in response.json()}
    assert health["tengrinews"]["last_status"] == "killed"
    assert health["tengrinews"]["bad_crawls_7_days"] == 1


def article_requested(server: ReplicaServer) -> bool:
    return any(re.search(server.site.article_path_regex, r.path) for r in server.log)


def test_a_reused_pid_does_not_keep_a_dead_crawl_running(db_path):
    database = monitor_db.open_db(db_path)
    # A live process that started after the crawl did holds the crawl's old pid: not it.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        old = monitor_db.start_crawl(
            database, "orda", pid=other.pid, started="2026-01-01T00:00:00+00:00"
        )
        live = monitor_db.start_crawl(database, "orda", pid=other.pid)  # started just now
        own = monitor_db.start_crawl(database, "vlast")  # this test's process
        assert processes.reap(database) == 1
        statuses = {r["id"]: r["status"] for r in database["crawls"].rows}
        assert statuses == {old: "killed", live: "running", own: "running"}
    finally:
        other.kill()
        other.wait()
    assert processes.reap(database) == 1  # `live` now: its process is gone
    assert database["crawls"].get(live)["status"] == "killed"


# -- item 9: a locked database -----------------------------------------------------------------

HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
conn.execute("INSERT INTO fetch_state (url) VALUES ('lock-holder')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def hold_lock(db_path: Path, seconds: float) -> subprocess.Popen:
    """A second process that holds the write lock for `seconds`, as another writer would."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db_path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.parametrize("command", [["rematch"], ["seed"]])
def test_commands_on_a_locked_database_give_one_line_after_the_busy_timeout(db_path, command):
    monitor_db.open_db(db_path).close()
    holder = hold_lock(db_path, 60)
    try:
        result = run(
            [sys.executable, "-m", "monitor", "--db", str(db_path), *command],
            env={"MONITOR_BUSY_TIMEOUT": "1"},
        )
        assert holder.poll() is None  # it gave up while the lock was still held
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "is locked by another process (waited 1 s" in errors[0]
    assert result.stderr.strip().splitlines()[-1] == errors[0]


def test_a_crawl_outlasts_a_lock_and_always_writes_its_record(outlet, db_path):
    monitor_db.open_db(db_path).close()
    holder = hold_lock(db_path, 4)
    try:
        result = run(crawl_cmd(outlet, db_path), env={"MONITOR_BUSY_TIMEOUT": "1"})
    finally:
        holder.wait()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "cannot record the start of the crawl yet" in result.stderr  # it met the lock
    expected = {a.url for a in expected_articles(outlet.site)}
    assert stored_urls(db_path) == expected
    (row,) = sqlite_utils.Database(db_path)["crawls"].rows
    assert (row["status"], row["new"]) == ("ok", len(expected))
    assert row["finished"] >= row["started"]


def test_a_crawl_whose_lock_never_goes_fails_with_one_line(outlet, db_path):
    monitor_db.open_db(db_path).close()
    holder = hold_lock(db_path, 120)
    try:
        result = run(crawl_cmd(outlet, db_path), env={"MONITOR_BUSY_TIMEOUT": "0.5"})
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert re.search(
        r"the crawl record of tengrinews could not be written: .*is locked", result.stderr
    )
    assert stored_urls(db_path) == set()
    assert "items could not be stored" in result.stderr


# -- item 11: two crawls of one outlet started by hand -----------------------------------------


def test_a_second_crawl_of_the_same_outlet_is_turned_away_while_the_first_runs(db_path):
    with ReplicaServer(SlowArticles(delay=8)) as server:
        first = subprocess.Popen(
            crawl_cmd(server, db_path),
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not article_requested(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.poll() is None, "the first crawl ended before the second could start"
        second = run(
            [sys.executable, "-m", "monitor", "--db", str(db_path), "crawl", "tengrinews"]
            + ["--base-url", server.origin, "--since", SINCE]
            + [arg for key, value in FAST.items() for arg in ("-s", f"{key}={value}")]
        )
        assert first.poll() is None  # turned away while the first was still crawling
        _, first_err = first.communicate(timeout=120)
        assert first.returncode == 0, first_err[-3000:]
        assert second.returncode == 3
        errors = [ln for ln in second.stderr.splitlines() if ln.startswith("Error: ")]
        assert errors == [
            f"Error: tengrinews is being crawled by another process (pid {first.pid}); "
            "not starting a second crawl of it"
        ], second.stderr[-2000:]
        assert "Traceback" not in second.stderr
        assert server.hits(r"^/robots\.txt$") == 1  # the second one sent no request at all
        assert server.hits(r"^/news\.rss$") == 1
        (row,) = sqlite_utils.Database(db_path)["crawls"].rows
        assert (row["status"], row["pid"]) == ("ok", first.pid)

        third = run(crawl_cmd(server, db_path))  # the lock went with the first crawl
        assert third.returncode == 0, third.stderr[-3000:]


# -- item 11: a page that never answers in time ------------------------------------------------


def test_a_page_that_times_out_in_crawls_in_a_row_is_given_up_until_it_changes(db_path):
    site = SlowArticles(delay=2)
    slow = expected_articles(site.inner)[1]
    site.only = slow.path
    settings = {"DOWNLOAD_TIMEOUT": "1", "RETRY_TIMES": "0", "MONITOR_TIMEOUTS_BEFORE_DEAD": "2"}
    with ReplicaServer(site) as server:
        requests_of_slow = []
        for _ in range(3):
            server.clear_log()
            result = run(crawl_cmd(server, db_path, **settings))
            assert result.returncode == 0, result.stderr[-3000:]
            time.sleep(site.delay)  # the server logs a request when it answers
            requests_of_slow.append(server.hits("^" + re.escape(slow.path) + "$"))
        # Timed out twice (a transient failure, then given up), then not asked for again.
        assert requests_of_slow == [1, 1, 0]
        database = sqlite_utils.Database(db_path)
        reasons = [(r["reason"], r["permanent"]) for r in database["failures"].rows]
        assert [p for _, p in reasons] == [0, 1]
        assert all(reason.startswith("timeout") for reason, _ in reasons)
        assert slow.url not in stored_urls(db_path)

        # The page is fixed and edited: its sitemap lastmod is now newer than the give-up.
        site.delay = 0
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 60))
        site.inner.edit_article(slow.id, add_paragraph="Материал дополнен.", modified=now)
        server.clear_log()
        result = run(crawl_cmd(server, db_path, **settings))
        assert result.returncode == 0, result.stderr[-3000:]
        assert server.hits("^" + re.escape(slow.path) + "$") == 1
        assert slow.url in stored_urls(db_path)


# -- item 11: a huge seed capture, a foreign database ------------------------------------------


def test_a_50_mb_seed_capture_is_refused_in_one_line_and_the_others_are_imported(db_path, tmp_path):
    good = sorted((ROOT / "seeds").glob("*.txt"))[0]
    huge = tmp_path / "huge.txt"
    text = good.read_text(encoding="utf-8")
    with huge.open("w", encoding="utf-8") as f:
        while f.tell() < 50 * 1024 * 1024:
            f.write(text)
    result = run(
        [sys.executable, "-m", "monitor", "--db", str(db_path), "seed", str(huge), str(good)]
    )
    assert result.returncode == 1
    assert f"{huge}: not imported: too large for a page capture: 50.0 MB (at most 1 MB)" in (
        result.stderr.splitlines()
    )
    assert "Traceback" not in result.stderr
    assert stored_urls(db_path) == {f"seed:{good.name}"}


def test_status_refuses_a_foreign_sqlite_file_and_leaves_it_as_it_was(tmp_path):
    foreign = tmp_path / "accounts.db"
    other = sqlite_utils.Database(foreign)
    other["customers"].insert({"id": 1, "name": "Айгуль"}, pk="id")
    other.conn.close()
    before = foreign.read_bytes()
    result = run([sys.executable, "-m", "monitor", "--db", str(foreign), "status"])
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Error: {foreign} is not a monitor database (it has other tables: customers); "
        "give an empty or new file with --db"
    )
    assert sqlite_utils.Database(foreign).table_names() == ["customers"]
    assert foreign.read_bytes() == before

    empty = tmp_path / "empty.db"
    sqlite_utils.Database(empty).conn.close()  # a SQLite file without tables is ours to fill
    result = run([sys.executable, "-m", "monitor", "--db", str(empty), "status"])
    assert result.returncode == 0, result.stderr
    assert "crawls" in sqlite_utils.Database(empty).table_names()


# -- item 11: the served site ------------------------------------------------------------------


def ds_get(ds, path: str, method: str = "get"):
    return asyncio.run(getattr(ds.client, method)(path))


def test_the_served_site_refuses_posts_to_canned_queries_with_405(db_path):
    monitor_db.open_db(db_path).close()
    ds = datasette(db_path)
    for path in ("/monitor/crawl_health", "/monitor/crawl_health.json", "/monitor/search"):
        response = ds_get(ds, path, "post")
        assert response.status_code == 405, (path, response.text[:300])
        assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert ds_get(ds, "/monitor/crawl_health.json").status_code == 200


def test_the_served_site_reveals_no_server_path_in_databases_json_or_a_500_page(tmp_path):
    folder = tmp_path / "secret-folder"
    db_path = folder / "monitor.db"
    monitor_db.open_db(db_path).close()
    ds = datasette(db_path)
    assert ds_get(ds, "/-/databases.json").status_code == 404
    for path in ("/", "/monitor", "/-/versions.json", "/-/plugins.json", "/-/settings.json"):
        response = ds_get(ds, path)
        assert response.status_code == 200 and "secret-folder" not in response.text, path
    db_path.unlink()  # the database file vanished: Datasette fails on its size
    for path in ("/monitor", "/monitor.json"):
        response = ds_get(ds, path)
        # Datasette answers 500, or 400 when the vanished file surfaces as a SQL error of the
        # query (it depends on what it had cached): either way no path and no OS message.
        assert response.status_code in (400, 500), path
        assert "secret-folder" not in response.text and "No such file" not in response.text
        if response.status_code == 500:
            assert "the details are in the server log" in response.text


def test_stemming_a_huge_text_in_sql_stops_at_datasettes_time_limit(db_path):
    monitor_db.open_db(db_path).close()
    ds = datasette(db_path)
    assert ds.setting("sql_time_limit_ms") == 3000
    # A tenth of it here, so that no machine stems the 5 M words in time, however fast.
    ds._settings["sql_time_limit_ms"] = 300
    words = "replace(hex(zeroblob({n})), '00', 'событиями ')"  # n words, made by SQLite itself
    stem = ds_get(ds, "/monitor.json?sql=" + f"select length(stem({words.format(n=5_000_000)}))")
    assert stem.status_code == 400
    assert "SQL query took too long" in stem.json()["error"]
    small = ds_get(ds, "/monitor.json?_shape=array&sql=" + f"select stem({words.format(n=3)}) as s")
    assert small.json() == [{"s": "событ событ событ"}]
    snippet = ds_get(
        ds,
        "/monitor.json?_shape=array&sql="
        + f"select search_snippet({words.format(n=2_000_000)}, 'нигде') as s",
    )
    assert snippet.status_code == 200
    assert snippet.json()[0]["s"].endswith(" …")


# -- item 11: a sitemap lastmod inherited through a redirect -----------------------------------

OLD_PATH = "/kazakhstan_news/old-address-999001/"
REDIRECT_LASTMOD = "2022-02-20T10:00:00+06:00"


class MovedArticle(Site):
    """The generic replica, where one article was moved: its sitemap lists the old address
    (with a late lastmod), which answers 301 to the article. Once `target_listed`, the sitemap
    lists the article's own address too, with its own lastmod."""

    def __init__(self):
        self.inner = GenericSite()
        self.articles = self.inner.articles
        self.article_path_regex = self.inner.article_path_regex
        self.target = min(expected_articles(self.inner), key=lambda a: a.published)
        self.target_listed = False

    @Site.origin.setter
    def origin(self, value: str) -> None:
        self._origin = value.rstrip("/")
        self.inner.origin = value

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        if path == OLD_PATH:
            return Reply(301, b"", {"Location": self.origin + self.target.path})
        reply = self.inner.reply(method, path, query, headers)
        if path.startswith("/sitemap-news-") and self.target.path.encode() in reply.body:
            old = f"<url><loc>{self.origin}{OLD_PATH}</loc><lastmod>{REDIRECT_LASTMOD}</lastmod>"
            body = reply.body.decode()
            if self.target_listed:
                body = body.replace("</urlset>", old + "</url></urlset>")
            else:
                own = re.escape(f"<url><loc>{self.origin}{self.target.path}</loc>") + (
                    "<lastmod>[^<]*</lastmod>"
                )
                body = re.sub(own, old, body)
            reply.body = body.encode()
        return reply


def test_a_redirects_lastmod_does_not_hide_a_later_edit_of_its_target(db_path):
    site = MovedArticle()
    target = site.target
    with ReplicaServer(site) as server:
        assert target.path not in site.inner.reply("GET", "/news.rss", "", {}).body.decode()
        assert run(crawl_cmd(server, db_path)).returncode == 0
        assert server.hits("^" + re.escape(OLD_PATH) + "$") == 1
        database = sqlite_utils.Database(db_path)
        row = next(database["articles"].rows_where("url = ?", [target.url]))
        assert row["lastmod"] != "2022-02-20T10:00:00+06:00"  # not the redirect's
        alias = database["aliases"].get(server.origin + OLD_PATH)
        assert (alias["article_id"], alias["lastmod"]) == (row["id"], REDIRECT_LASTMOD)

        server.clear_log()
        assert run(crawl_cmd(server, db_path)).returncode == 0
        assert server.hits("^" + re.escape(OLD_PATH) + "$") == 0  # its lastmod is known

        # The article is edited; its own lastmod is older than the redirect's.
        site.inner.edit_article(
            target.id,
            add_paragraph="Редакция уточнила данные.",
            modified="2022-02-10T10:00:00+06:00",
        )
        site.target_listed = True
        server.clear_log()
        assert run(crawl_cmd(server, db_path)).returncode == 0
        assert server.hits("^" + re.escape(target.path) + "$") == 1
        assert server.hits("^" + re.escape(OLD_PATH) + "$") == 0
        row = next(sqlite_utils.Database(db_path)["articles"].rows_where("url = ?", [target.url]))
        assert "Редакция уточнила данные." in row["text"]
