"""The web archive: every article fetch of a crawl kept as WARC records, found again by offset.

Crawls run against the Orda replica; the WARC files are checked with warcio's own tools.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from monitor import archive, db
from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer
from tests.conftest import (
    FAST,
    ROOT,
    SINCE,
    clean_env,
    expected_articles,
    run_monitor,
    scrapy_crawl,
)

WARCIO = str(Path(sys.executable).parent / "warcio")


def crawl(server: ReplicaServer, db_path: Path) -> None:
    result = scrapy_crawl("orda", db_path, f"base_url={server.origin}", f"since={SINCE}")
    assert result.returncode == 0, result.stderr[-4000:]


def warc_files(db_path: Path) -> list[Path]:
    return sorted((db_path.parent / "warc").rglob("*.warc.gz"))


def served(server: ReplicaServer, url: str) -> bytes:
    """The body the replica serves for a URL (its pages are rendered once and cached)."""
    split = urlsplit(url)
    return server.site.reply("GET", split.path, split.query, {}).body


def assert_checked(files: list[Path]) -> None:
    """warcio's own checker passes on every file (digests verified, every record complete)."""
    assert files
    result = subprocess.run([WARCIO, "check", "-v", *map(str, files)], capture_output=True)
    assert result.returncode == 0, result.stdout.decode()[-3000:]
    assert b"digest pass" in result.stdout and b"fail" not in result.stdout


def test_every_article_fetch_is_archived_and_read_back_by_offset(db_path):
    with ReplicaServer(OrdaSite()) as server:
        crawl(server, db_path)
        database = sqlite_utils.Database(db_path)
        articles = {row["url"]: row["id"] for row in database["articles"].rows}
        captures = list(database["captures"].rows)
        root = archive.archive_dir(db_path)
        assert root == db_path.parent / "warc"

        # Every stored article has a 200 capture linked to it.
        linked = {c["article_id"] for c in captures if c["status"] == 200}
        assert set(articles.values()) <= linked
        # Errors are archived too: the deleted pages (404/410), and the 503 before the retry.
        statuses = {c["status"] for c in captures}
        assert {200, 404, 410, 503} <= statuses, statuses
        assert all(c["outlet"] == "orda" for c in captures)

        for capture in captures:
            record = archive.read_capture(
                root, capture["file"], capture["offset"], capture["length"]
            )
            assert record.url == capture["url"]
            assert record.status == capture["status"]
            assert record.digest == capture["digest"]
            if capture["status"] in (200, 404, 410):
                body = served(server, capture["url"])
                assert record.body == body, capture["url"]
                assert capture["digest"] == archive.payload_digest(body)

        # The index warcio builds finds the same response records at the same offsets.
        files = warc_files(db_path)
        assert_checked(files)
        indexed = set()
        for file in files:
            out = subprocess.run(
                [WARCIO, "index", "-f", "warc-type,warc-target-uri,offset,length", str(file)],
                capture_output=True,
                check=True,
                text=True,
            ).stdout
            for line in out.splitlines():
                entry = json.loads(line)
                if entry["warc-type"] == "response":
                    relative = str(file.relative_to(root))
                    indexed.add((relative, int(entry["offset"]), int(entry["length"])))
        assert indexed == {(c["file"], c["offset"], c["length"]) for c in captures}
        # `monitor archive` reports the same records and bytes.
        shown = run_monitor("--db", str(db_path), "archive")
        assert shown.returncode == 0, shown.stderr
        month = captures[0]["fetched"][:7]
        line = next(x for x in shown.stdout.splitlines() if x.split()[:2] == ["orda", month])
        assert line.split()[2:4] == [str(len(captures)), str(len(articles))]
        on_disk = sum(f.stat().st_size for f in files) / 2**20
        assert f"total on disk: {on_disk:.1f} MB" in shown.stdout
        # Each file is one outlet's, named by outlet and day.
        assert all(
            re.match(r"orda/orda-\d{8}-\d{6}-\d+-\d{4}\.warc\.gz$", c["file"]) for c in captures
        )


def test_request_records_say_what_was_sent(db_path):
    with ReplicaServer(OrdaSite()) as server:
        crawl(server, db_path)
    from warcio.archiveiterator import ArchiveIterator

    (file,) = warc_files(db_path)
    with open(file, "rb") as handle:
        records = [
            (r.rec_type, r.rec_headers, r.http_headers) for r in ArchiveIterator(handle) if r
        ]
    assert records[0][0] == "warcinfo"
    responses = {h.get_header("WARC-Record-ID"): h for t, h, _ in records if t == "response"}
    requests = [(h, http) for t, h, http in records if t == "request"]
    assert len(requests) == len(responses)
    for headers, http in requests:
        assert headers.get_header("WARC-Concurrent-To") in responses
        assert f"{http.protocol} {http.statusline}".startswith("GET /")
        assert http.get_header("User-Agent").startswith("monitor/")
        assert http.get_header("Host").startswith("127.0.0.1:")


def test_a_crawl_killed_with_sigkill_leaves_readable_archives_and_the_next_continues(db_path):
    class SlowOrda(OrdaSite):
        def reply(self, method, path, query, headers):
            answer = super().reply(method, path, query, headers)
            if re.search(self.article_path_regex, path):
                answer.delay = 0.2
            return answer

    with ReplicaServer(SlowOrda()) as server:
        cmd = [sys.executable, "-m", "scrapy", "crawl", "orda"]
        cmd += ["-a", f"base_url={server.origin}", "-a", f"since={SINCE}"]
        for key, value in {**FAST, "CONCURRENT_REQUESTS_PER_DOMAIN": "1"}.items():
            cmd += ["-s", f"{key}={value}"]
        cmd += ["-s", f"MONITOR_DB={db_path}"]
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        captured = 0
        while captured < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                captured = sqlite_utils.Database(db_path)["captures"].count
            except Exception:
                captured = 0
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert captured >= 5

        first = warc_files(db_path)
        sizes = {file: file.stat().st_size for file in first}
        assert_checked(first)
        database = sqlite_utils.Database(db_path)
        root = archive.archive_dir(db_path)
        for capture in database["captures"].rows:
            archive.read_capture(root, capture["file"], capture["offset"], capture["length"])
        before = database["captures"].count
        assert before < len(expected_articles(server.site))
        # Records written just before the kill whose rows were never committed are found again.
        on_disk = sum(1 for file in first for _ in archive.iter_responses(file))
        shown = run_monitor("--db", str(db_path), "archive", "--reindex")
        assert shown.returncode == 0, shown.stderr
        assert f"reindexed: {on_disk - before} record(s)" in shown.stdout
        assert database["captures"].count == on_disk
        for capture in database["captures"].rows:
            archive.read_capture(root, capture["file"], capture["offset"], capture["length"])

        crawl(server, db_path)
        files = warc_files(db_path)
        assert len(files) == len(first) + 1, "the next crawl writes a new file"
        assert {file: file.stat().st_size for file in first} == sizes, "old files untouched"
        assert_checked(files)
        database = sqlite_utils.Database(db_path)
        unarchived = database.execute(
            "select url from articles where id not in "
            "(select article_id from captures where status = 200 and article_id is not null)"
        ).fetchall()
        assert unarchived == []
        assert database["articles"].count == len(expected_articles(server.site))


def test_a_record_outside_the_archive_is_refused(tmp_path):
    with pytest.raises(ValueError, match="outside the archive"):
        archive.read_raw(tmp_path / "warc", "../monitor.db", 0, 10)


def test_files_rotate_by_size_and_records_stay_whole(tmp_path):
    store = archive.Archive(tmp_path / "warc", max_bytes=2000)
    rng, letters = random.Random(13), "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі "
    captures = [
        store.write(
            outlet="orda",
            url=f"https://orda.kz/page-{i}/",
            method="GET",
            request_headers=[("User-Agent", "monitor/test")],
            status=200,
            response_headers=[("Content-Type", "text/html; charset=utf-8")],
            body=(f"<p>Абзац {i} " + "".join(rng.choices(letters, k=4000)) + "</p>").encode(),
        )
        for i in range(3)
    ]
    store.close()
    assert len({c.file for c in captures}) == 3
    for i, capture in enumerate(captures):
        record = archive.read_capture(
            tmp_path / "warc", capture.file, capture.offset, capture.length
        )
        assert record.body.decode().startswith(f"<p>Абзац {i} ")
    assert_checked(sorted((tmp_path / "warc").rglob("*.warc.gz")))
    # A database that lost its rows gets them back from the files.
    database = db.open_db(tmp_path / "monitor.db")
    assert archive.reindex(database, tmp_path / "warc") == 3
    rows = {(r["file"], r["offset"], r["length"], r["url"]) for r in database["captures"].rows}
    assert rows == {(c.file, c.offset, c.length, c.url) for c in captures}
    assert archive.reindex(database, tmp_path / "warc") == 0


def test_a_chunked_answer_is_archived_as_received_and_reads_back(tmp_path):
    store = archive.Archive(tmp_path / "warc")
    body = "<html><body><p>Материал жарияланды.</p></body></html>".encode()
    capture = store.write(
        outlet="azattyq",
        url="https://rus.azattyq.org/a/1.html",
        method="GET",
        request_headers=[],
        status=200,
        response_headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
        body=body,
    )
    store.close()
    record = archive.read_capture(tmp_path / "warc", capture.file, capture.offset, capture.length)
    assert record.body == body and record.header("Transfer-Encoding") is None
    assert record.header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert_checked(sorted((tmp_path / "warc").rglob("*.warc.gz")))


WRITE_UNTIL_FULL = """
import json, random, resource, signal, sys
from monitor import archive
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))  # no file may grow past 20 KB
rng = random.Random(5)
store = archive.Archive(sys.argv[1])
written, failed = [], 0
for i in range(12):
    body = "".join(rng.choices("абвгдежзийклмнопрстуфхцчшщыэюя ", k=5000)).encode()
    try:
        c = store.write(outlet="orda", url=f"https://orda.kz/n-{i}/", method="GET",
                        request_headers=[], status=200, response_headers=[], body=body)
        written.append([c.file, c.offset, c.length, c.url])
    except OSError:
        failed += 1
store.close()
print(json.dumps({"written": written, "failed": failed}))
"""


def test_a_full_disk_leaves_the_written_records_readable_and_moves_to_a_new_file(tmp_path):
    # The file-size limit makes the disk "full" at 20 KB per file: a real failing write().
    done = subprocess.run(
        [sys.executable, "-c", WRITE_UNTIL_FULL, str(tmp_path / "warc")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["failed"] >= 1
    files = {c[0] for c in result["written"]}
    assert len(files) >= 2  # after a failed write, the next record went to a new file
    for file, offset, length, url in result["written"]:
        assert archive.read_capture(tmp_path / "warc", file, offset, length).url == url
