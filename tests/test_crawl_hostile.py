"""End to end: crawls of hostile or broken outlets, served by replicas on loopback.

An outlet whose redirects, meta refreshes and sitemaps lead to another server on the machine,
a feed and a sitemap that are gzip bombs, and a robots.txt that forbids everything.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import sqlite_utils
import yaml

from monitor.replica.generic import GenericSite
from monitor.replica.server import ReplicaServer, Reply, Site
from tests.conftest import FAST, ROOT, SINCE, clean_env, expected_articles
from tests.replica.registry import write_registry

SECRET = "Внутренняя страница сервера, которую краулер не должен читать"


class InternalSite(Site):
    """A server on the machine's own network: any path is a page that looks like an article."""

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        if path.endswith(".xml"):
            body = (
                '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{self.origin}/kazakhstan_news/internal-page-1/</loc></url></urlset>"
            )
            return Reply(200, body.encode(), {"Content-Type": "application/xml"})
        page = (
            '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
            f"<title>{SECRET}</title></head><body><article><h1>{SECRET}</h1>"
            + f"<p>{SECRET}: пароли, ключи и настройки машины, на которой работает краулер.</p>" * 4
            + "</article></body></html>"
        )
        return Reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


class HostileSite(GenericSite):
    """The generic replica, with some articles leading elsewhere: `redirects` (302) and
    `refreshes` (a meta refresh) by article path, and `foreign_sitemaps` added to its sitemap
    index."""

    def __init__(self) -> None:
        super().__init__()
        self.redirects: dict[str, str] = {}
        self.refreshes: dict[str, str] = {}
        self.foreign_sitemaps: list[str] = []

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        if path in self.redirects:
            return Reply(302, b"", {"Location": self.redirects[path]})
        if path in self.refreshes:
            body = (
                '<html><head><meta http-equiv="refresh" '
                f'content="0; url={self.refreshes[path]}"></head><body></body></html>'
            )
            return Reply(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"})
        return super().reply(method, path, query, headers)

    def _sitemap_index(self) -> str:
        index = super()._sitemap_index()
        extra = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in self.foreign_sitemaps)
        return index.replace("</sitemapindex>", extra + "</sitemapindex>")


def registry(tmp_path: Path, origin: str, **entry: object) -> Path:
    """The project's `tengrinews` entry pointed at `origin`, with `entry`'s keys replaced."""
    path = write_registry(tmp_path / "outlets.yml", {"tengrinews": origin})
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["outlets"][0].update(entry)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def crawl(db_path: Path, outlets: Path, **settings: str) -> tuple[int, str, int]:
    """`scrapy crawl tengrinews` with the registry `outlets`; returns the exit status, the log
    and the peak RSS in bytes of the crawl process (and its extraction workers)."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", "tengrinews", "-a", f"since={SINCE}"]
    merged = {**FAST, "MONITOR_DB": str(db_path), "MONITOR_OUTLETS": str(outlets), **settings}
    for key, value in merged.items():
        cmd += ["-s", f"{key}={value}"]
    log = db_path.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=clean_env(), stdout=out, stderr=out)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, log.read_text(errors="replace"), usage.ru_maxrss * 1024


@pytest.fixture
def servers():
    with ReplicaServer(HostileSite()) as outlet, ReplicaServer(InternalSite()) as internal:
        yield outlet, internal


def test_redirects_refreshes_and_sitemaps_never_reach_another_server(servers, tmp_path, db_path):
    outlet, internal = servers
    site: HostileSite = outlet.site
    articles = expected_articles(site)
    redirected, refreshed, to_localhost, to_allowed = articles[:4]
    site.redirects[redirected.path] = f"{internal.origin}/kazakhstan_news/internal-page-1/"
    site.refreshes[refreshed.path] = f"{internal.origin}/kazakhstan_news/internal-page-2/"
    # the same server under another name: not the outlet's host either
    site.redirects[to_localhost.path] = outlet.origin.replace("127.0.0.1", "localhost") + "/x/"
    site.foreign_sitemaps.append(f"{internal.origin}/sitemap-news-2022-01.xml")
    # an edition on a host the registry allows is followed (here the outlet's own server)
    with ReplicaServer(GenericSite()) as edition:
        site.redirects[to_allowed.path] = edition.origin + to_allowed.path
        outlets = registry(
            tmp_path, outlet.origin, allowed_hosts=[edition.origin.removeprefix("http://")]
        )
        status, log, _ = crawl(db_path, outlets)
        assert edition.hits("^" + to_allowed.path + "$") == 1

    assert status == 0, log[-3000:]
    assert internal.log == []  # not even its robots.txt
    database = sqlite_utils.Database(db_path)
    rows = list(database["articles"].rows)
    assert not any(SECRET in json.dumps(row, ensure_ascii=False) for row in rows)
    refused = {
        row["url"]: row["reason"]
        for row in database["failures"].rows
        if row["reason"].startswith("refused")
    }
    assert set(refused) == {
        redirected.url,
        refreshed.url,
        to_localhost.url,
        f"{internal.origin}/sitemap-news-2022-01.xml",
    }
    assert "is not one of the outlet's hosts" in refused[redirected.url]
    stored = {row["title"] for row in rows}
    assert stored == {a.title for a in articles} - {
        redirected.title,
        refreshed.title,
        to_localhost.title,
    }
    (run,) = database["crawls"].rows
    assert run["status"] == "ok"


def gzip_bomb(size: int = 1 << 30) -> bytes:
    """About 1 MB of gzip that expands to `size` bytes of zeros: 1 MiB members, repeated."""
    member = gzip.compress(bytes(1 << 20), compresslevel=9, mtime=0)
    return member * (size >> 20)


class BombSite(GenericSite):
    """The generic replica with a second feed and a second sitemap that are gzip bombs."""

    bomb = gzip_bomb()

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        if path in ("/bomb.rss", "/sitemap-bomb.xml.gz"):
            return Reply(200, self.bomb, {"Content-Type": "application/x-gzip"})
        return super().reply(method, path, query, headers)


def test_gzip_bombs_in_a_feed_and_a_sitemap_are_failures_not_memory(tmp_path, db_path):
    assert len(BombSite.bomb) < 1_200_000
    with ReplicaServer(BombSite()) as outlet:
        outlets = registry(
            tmp_path,
            outlet.origin,
            feeds=["/news.rss", "/bomb.rss"],
            sitemaps=["/sitemap_ru.xml", "/sitemap-bomb.xml.gz"],
        )
        status, log, peak = crawl(db_path, outlets)
        assert outlet.hits(r"^/bomb\.rss$") == 1 and outlet.hits(r"^/sitemap-bomb") == 1
    assert status == 0, log[-3000:]
    print(f"peak RSS of the crawl with two 1 GiB gzip bombs: {peak / 2**20:.0f} MB")
    assert peak < 400 * 2**20, peak  # a decompressed bomb alone is 1,024 MB
    database = sqlite_utils.Database(db_path)
    failures = {row["url"]: row["reason"] for row in database["failures"].rows}
    for path, kind in (("/bomb.rss", "feed"), ("/sitemap-bomb.xml.gz", "sitemap")):
        assert failures[outlet.origin + path] == f"{kind} is over 10485760 bytes once decompressed"
    assert database["articles"].count == len(expected_articles(outlet.site))
    (run,) = database["crawls"].rows
    assert (run["status"], run["failed"]) == ("ok", 2)


class ClosedSite(GenericSite):
    """The generic replica whose robots.txt forbids everything."""

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        if path == "/robots.txt":
            return Reply(200, b"User-agent: *\nDisallow: /\n", {"Content-Type": "text/plain"})
        return super().reply(method, path, query, headers)


def test_robots_txt_forbidding_everything_holds_for_every_discovery_url(tmp_path, db_path):
    with ReplicaServer(ClosedSite()) as outlet:
        outlets = registry(
            tmp_path,
            outlet.origin,
            feeds=["/news.rss", "/rss/kk.rss", "/rss/sport.rss"],
            sitemaps=["/sitemap_ru.xml", "/sitemap_kz.xml"],
            listings=["/", "/news/", "/kazakhstan_news/"],
        )
        status, log, _ = crawl(db_path, outlets)
        assert [r.path for r in outlet.log] == ["/robots.txt"], log[-3000:]
    assert "Traceback" not in log
    database = sqlite_utils.Database(db_path)
    assert database["articles"].count == 0 and database["failures"].count == 0
    (run,) = database["crawls"].rows
    # nothing could be read: a failed crawl, exit status 1, with the reason in the log
    assert (status, run["status"]) == (1, "failed")
    assert log.count("forbidden by robots.txt") == 8


def test_a_page_whose_extraction_hangs_is_a_failure_and_the_crawl_goes_on(tmp_path, db_path):
    slow = r"^\w*\w*\w*\w*\w*\w*\w*!$"  # no nested repetition: the registry accepts it
    with ReplicaServer(GenericSite()) as outlet:
        site = outlet.site
        articles = expected_articles(site)
        stuck = site.edit_article(
            articles[1].id, add_paragraph="я" * 300, modified="2022-03-02T09:00:00+06:00"
        )
        outlets = registry(tmp_path, outlet.origin, extraction={"drop_text": [slow]})
        status, log, _ = crawl(db_path, outlets, MONITOR_EXTRACT_TIMEOUT="10")
        assert outlet.hits("^" + stuck.path + "$") == 1  # not tried again in the crawl
    assert status == 0, log[-3000:]
    assert "Traceback" not in log
    database = sqlite_utils.Database(db_path)
    failures = {row["url"]: row["reason"] for row in database["failures"].rows}
    assert failures == {stuck.url: "extraction took over 10 s"}
    stored = {row["url"] for row in database["articles"].rows}
    assert stored == {a.url for a in articles} - {stuck.url}
