"""The demo's living replicas: held-back articles published, edits, a removal, seen by crawls."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime

import pytest
import sqlite_utils

from monitor.dates import ALMATY
from monitor.replica.generic import GenericSite
from monitor.replica.live import EDIT_NOTE, LiveSite, Newsroom
from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer
from monitor.replica.sputnik import SputnikSite
from tests.conftest import SINCE, expected_articles, scrapy_crawl


def crawl(server: ReplicaServer, db_path, spider: str) -> None:
    result = scrapy_crawl(spider, db_path, f"base_url={server.origin}", f"since={SINCE}")
    assert result.returncode == 0, result.stderr[-3000:]


def stored_urls(db_path) -> set[str]:
    return {row["url"] for row in sqlite_utils.Database(db_path)["articles"].rows}


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize(
    ("spider", "site"),
    [("tengrinews", GenericSite), ("orda", OrdaSite), ("sputnik_kz", lambda: SputnikSite("kz"))],
)
def test_a_crawl_sees_publications_edits_and_removals(tmp_path, spider, site):
    live = LiveSite(site(), hold_back=2)
    db_path = tmp_path / "live.db"
    with ReplicaServer(live) as server:
        held = [a.url for a in live.held]
        everything = {a.url for a in expected_articles(live.inner)}
        crawl(server, db_path, spider)
        assert stored_urls(db_path) == everything - set(held)
        assert all(status_of(url) == 404 for url in held)

        published = live.publish()
        assert published.url == held[0]
        edited = live.edit(datetime.now(ALMATY))
        removed = live.remove()
        assert status_of(removed.url) == 404 and status_of(published.url) == 200
        crawl(server, db_path, spider)

    database = sqlite_utils.Database(db_path)
    assert stored_urls(db_path) == everything - {held[1]}  # the removed one stays stored
    row = database.execute(
        "select id, title, text from articles where url = ?", [edited.url]
    ).fetchone()
    assert row[1].endswith("(обновлено)") and EDIT_NOTE in row[2]
    assert (
        database.execute("select count(*) from versions where article_id = ?", [row[0]]).fetchone()[
            0
        ]
        == 1
    )


def test_the_newsroom_takes_turns_and_skips_what_cannot_be_done():
    sites = {"a": LiveSite(GenericSite(), hold_back=1), "b": LiveSite(GenericSite(), hold_back=1)}
    for site in sites.values():
        site.origin = "http://127.0.0.1:9"
    said: list[str] = []
    room = Newsroom(sites, every=3600, report=said.append)
    for _ in range(6):
        room.act()
    # publish, publish, edit, publish, remove in turn, each on a then b; with one article held
    # back per site the later publications have nothing to publish and are skipped
    assert [tuple(line.split()[1:3]) for line in said] == [
        ("a", "published"),
        ("b", "published"),
        ("a", "edited"),
        ("b", "edited"),
        ("a", "removed"),
        ("b", "removed"),
    ]
    assert not sites["a"].held and len(sites["a"].removed) == 1 and len(sites["a"].edited) == 1
