"""`monitor outlet check URL`: a registry entry found from a site alone, and crawled as found."""

from __future__ import annotations

import pytest
import sqlite_utils
import yaml

from monitor.discovery import induce_pattern
from monitor.replica.generic import GenericSite
from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer, Reply
from tests.conftest import FAST, SINCE, expected_articles, run_monitor


def check(url: str, *args: str):
    return run_monitor("outlet", "check", url, "--delay", "0", *args, timeout=120)


def entry_of(stdout: str) -> dict:
    """The registry entry printed at the end of `outlet check`."""
    text = stdout.split("# for seeds/outlets.yml", 1)[1].split("\n", 1)[1]
    (entry,) = yaml.safe_load(text)
    return entry


def test_the_entry_found_for_a_generic_outlet_crawls_it(tmp_path):
    site = GenericSite()
    with ReplicaServer(site) as server:
        result = check(server.origin, "--slug", "found", "--name", "Found")
        assert result.returncode == 0, result.stderr
        entry = entry_of(result.stdout)
        assert entry["feeds"] == ["/news.rss"] and entry["sitemaps"] == ["/sitemap_ru.xml"]
        assert entry["slug"] == "found" and entry["base_url"] == server.origin
        assert result.stdout.count("  ✓ ") == 5  # five sample articles extracted
        registry = tmp_path / "outlets.yml"
        registry.write_text(yaml.safe_dump({"outlets": [entry]}, allow_unicode=True), "utf-8")
        db_path = tmp_path / "found.db"
        settings = [arg for k, v in FAST.items() for arg in ("-s", f"{k}={v}")]
        crawl = run_monitor(
            "--db", str(db_path), "--outlets", str(registry),
            "crawl", "found", "--since", SINCE, *settings, timeout=180,
        )  # fmt: skip
        assert crawl.returncode == 0, crawl.stderr[-3000:]
    stored = {row["url"] for row in sqlite_utils.Database(db_path)["articles"].rows}
    assert stored == {server.origin + a.path for a in expected_articles(site)}
    # robots.txt was read first, and its Disallow rules were obeyed
    assert server.log[0].path == "/robots.txt"
    assert not any(r.path.startswith("/search/") for r in server.log)


def test_a_listing_page_given_as_start_finds_orda_pattern():
    with ReplicaServer(OrdaSite()) as server:
        result = check(server.origin + "/last-news/")
    assert result.returncode == 0, result.stderr
    entry = entry_of(result.stdout)
    assert entry["article_pattern"] == r"^/[a-z0-9%_-]+-\d+/?$"  # what seeds/outlets.yml says
    assert entry["feeds"] == ["/feed/"] and entry["listings"] == ["/last-news/"]
    assert entry["lang"] == "ru"


class Closed(GenericSite):
    def reply(self, method, path, query, headers):
        if path == "/robots.txt":
            return Reply(200, b"User-agent: *\nDisallow: /\n", {"Content-Type": "text/plain"})
        return super().reply(method, path, query, headers)


def test_robots_forbidding_the_site_is_a_one_line_error():
    with ReplicaServer(Closed()) as server:
        result = check(server.origin)
        assert [r.path for r in server.log] == ["/robots.txt"]
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: robots.txt of ")


@pytest.mark.parametrize("url", ["ftp://example.kz", "http://"])
def test_a_bad_address_is_a_one_line_error(url):
    result = check(url)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")


@pytest.mark.parametrize(
    ("paths", "pattern"),
    [
        (
            [f"/2022/01/{d:02d}/story-{d}.html" for d in range(1, 9)],
            r"^/\d{4}/\d{2}/\d{2}/[a-z0-9%_-]+-\d+\.html/?$",
        ),
        ([f"/news/{n}" for n in range(100, 110)] + ["/about/"], r"^/news/\d+/?$"),
        ([f"/{s}/{n}-title-{n}" for s, n in zip("abcabcabc", range(9), strict=True)], None),
        ([f"/kk/news/{n}-zhanalyq" for n in range(10)], r"^/kk/news/\d+-[a-z0-9%_-]+/?$"),
    ],
)
def test_article_pattern_induction(paths, pattern):
    found, share = induce_pattern(paths)
    if pattern is None:  # sections vary: any slug
        assert found == r"^/[a-z0-9%_-]+/[a-z0-9%_-]+-\d+/?$" and share == 1.0
    else:
        assert found == pattern
        assert share >= 0.9
