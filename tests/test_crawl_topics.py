"""A topic file edited while a crawl runs: the crawl's stored matches follow the file.

The Orda.kz replica serves the crawl; after a few article pages the test rewrites the topic file
(from one under which nothing matches to the project's own). The extraction workers loaded the
old file; the articles stored after the edit must be matched with the new one all the same.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import sqlite_utils

from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer
from monitor.topics import load_topics, match_article
from tests.conftest import ROOT, SINCE, expected_articles, scrapy_crawl
from tests.replica.registry import write_registry

TOPICS = (ROOT / "seeds" / "topics.yml").read_text("utf-8")
NOTHING = TOPICS.replace("\n    threshold: 4\n", "\n    threshold: 400\n", 1)


class EditingSite(OrdaSite):
    """The Orda replica, rewriting a topic file once three articles were served and had time to
    be extracted (the extraction workers have loaded the old file by then)."""

    def __init__(self, topics: Path):
        super().__init__()
        self.topics = topics
        self.articles_served = 0
        self.lock = threading.Lock()
        self.edited = threading.Event()

    def reply(self, method, path, query, headers):
        if re.search(self.article_path_regex, path):
            with self.lock:
                self.articles_served += 1
                later = self.articles_served > 3
            if later and not self.edited.is_set():
                with self.lock:
                    if not self.edited.is_set():
                        time.sleep(2.0)
                        self.topics.write_text(TOPICS, "utf-8")
                        self.edited.set()
        return super().reply(method, path, query, headers)


def test_articles_stored_after_the_topic_file_changed_are_matched_with_the_new_file(
    tmp_path, db_path
):
    topics_path = tmp_path / "topics.yml"
    topics_path.write_text(NOTHING, "utf-8")
    site = EditingSite(topics_path)
    with ReplicaServer(site) as server:
        registry = write_registry(tmp_path / "outlets.yml", {"orda": server.origin})
        settings = {"MONITOR_OUTLETS": str(registry), "MONITOR_TOPICS": str(topics_path)}
        result = scrapy_crawl("orda", db_path, f"since={SINCE}", settings=settings)
    assert result.returncode == 0, result.stderr[-3000:]
    assert topics_path.read_text("utf-8") == TOPICS
    database = sqlite_utils.Database(db_path)
    rows = list(database.query("select id, title, lead, text, published, lang from articles"))
    assert len(rows) == len(expected_articles(site))
    topics = load_topics(topics_path)
    stored = {r["article_id"] for r in database.query("select article_id from matches")}
    expected = {
        r["id"]
        for r in rows
        if match_article(
            topics,
            title=r["title"] or "",
            lead=r["lead"] or "",
            text=r["text"] or "",
            published=r["published"],
            lang=r["lang"],
        )
    }
    assert expected, "the replica should hold articles about the events"
    # The three articles served before the edit may carry the old file's (empty) matches; every
    # article stored after it must carry the new file's.
    assert stored <= expected
    assert len(stored) >= len(expected) - 3
