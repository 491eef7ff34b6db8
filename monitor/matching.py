"""Matching articles to topics: as they are stored, and after the fact.

New and changed articles are matched as they are extracted and stored (monitor/pipelines.py,
monitor/seeding.py, through match()); when a topic file changes, rematch() re-scores every
stored article without recrawling (`monitor rematch`); topic_counts() serves `monitor topics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.topics import Topic, match_article
from monitor.topics import load_topics as _load

BATCH = 500


def load_topics(path: str | None) -> list[Any]:
    """The topics to match stored articles against (none if there is no topic file)."""
    if not path or not Path(path).exists():
        return []
    return _load(path)


def match(topics: list[Any], fields: dict[str, Any]) -> list[Any]:
    """The topics an article matches."""
    if not topics:
        return []
    return match_article(
        topics,
        title=fields.get("title") or "",
        lead=fields.get("lead") or "",
        text=fields.get("text") or "",
    )


def rematch(
    database: Any,
    topics: list[Topic],
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Re-score every article against `topics`, replacing all `matches` rows.

    Matches of topics no longer in the file are removed. Returns counts per topic before and
    after, and the speed.
    """
    from monitor import db  # here: the extraction workers import this module, not the database

    before = dict(database.execute("SELECT topic, count(*) FROM matches GROUP BY topic").fetchall())
    total = database.execute("SELECT count(*) FROM articles").fetchone()[0]
    started = time.perf_counter()
    done = 0
    last_id = 0
    slugs = [t.slug for t in topics]
    with db.writing(database):
        database.execute(
            f"DELETE FROM matches WHERE topic NOT IN ({','.join('?' * len(slugs))})", slugs
        )
    while True:
        rows = database.execute(
            "SELECT id, title, lead, text FROM articles WHERE id > ? ORDER BY id LIMIT ?",
            [last_id, BATCH],
        ).fetchall()
        if not rows:
            break
        results = [
            (
                row[0],
                match_article(topics, title=row[1] or "", lead=row[2] or "", text=row[3] or ""),
            )
            for row in rows
        ]
        with db.writing(database):
            for article_id, matches in results:
                db.save_matches(database, article_id, matches)
        done += len(rows)
        last_id = rows[-1][0]
        if progress:
            progress(done, total, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    after = dict(database.execute("SELECT topic, count(*) FROM matches GROUP BY topic").fetchall())
    return {
        "articles": done,
        "seconds": seconds,
        "per_second": done / seconds if seconds else 0.0,
        "before": before,
        "after": after,
    }


def topic_counts(database: Any) -> dict[str, tuple[int, int]]:
    """Per topic: (all matches, matches of articles published or fetched in the last 7 days)."""
    rows = database.execute(
        "SELECT m.topic, count(*), sum(coalesce(a.published, a.fetched) >= date('now', '-7 days')) "
        "FROM matches m JOIN articles a ON a.id = m.article_id GROUP BY m.topic"
    ).fetchall()
    return {topic: (total, recent or 0) for topic, total, recent in rows}
