"""Matching articles to topics: as they are stored, and after the fact.

New and changed articles are matched as they are extracted and stored (monitor/pipelines.py,
monitor/seeding.py, through match()); when a topic file changes, rematch() re-scores every
stored article without recrawling (`monitor rematch`, or `--dry-run` to see what would change);
topic_counts() serves `monitor topics`. TopicFile lets a long crawl notice an edited topic file,
so a crawl and a rematch running side by side end consistent with the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.topics import Topic, TopicError, load_topics, match_article

logger = logging.getLogger(__name__)

BATCH = 500


def match(topics: list[Any], fields: dict[str, Any]) -> list[Any]:
    """The topics an article matches, judged with its stored language and publication date."""
    if not topics:
        return []
    return match_article(
        topics,
        title=fields.get("title") or "",
        lead=fields.get("lead") or "",
        text=fields.get("text") or "",
        published=fields.get("published"),
        lang=fields.get("lang"),
    )


def fingerprint(path: str | Path | None) -> str | None:
    """A digest of the topic file's content (None when there is no file to read)."""
    if not path:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return None


class TopicFile:
    """A configured topic file and its topics, loaded again when the file's content changes."""

    def __init__(self, path: str | Path | None):
        self.path = path
        self._stat: tuple[int, int, int] | None = None
        self._printed: str | None = None  # the file's fingerprint at the last stat change
        self.fingerprint: str | None = None  # of the topics loaded
        self.topics: list[Topic] = []

    def current_fingerprint(self) -> str | None:
        """The fingerprint of the file as it is now (a stat per call, a read after a change)."""
        if not self.path:
            return None
        try:
            st = Path(self.path).stat()
            stat: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stat = None
        if stat is None or stat != self._stat:
            self._printed = fingerprint(self.path)
            self._stat = stat
        return self._printed

    def current(self) -> list[Topic]:
        """The topics of the file as it is now."""
        printed = self.current_fingerprint()
        if not self.path or (printed == self.fingerprint and self.fingerprint is not None):
            return self.topics
        try:
            self.topics = load_topics(self.path)
        except TopicError as exc:
            if self.fingerprint is None:
                raise
            # Edited into a broken state mid-crawl: keep matching with the last good version
            # (a rematch after the fix brings the articles up to date).
            logger.error("%s; still matching with the topics loaded before", exc)
            return self.topics
        self.fingerprint = printed
        return self.topics


@dataclass
class Change:
    """What a rematch does (or would do) to one topic's matches."""

    gained: list[tuple[int, str]] = field(default_factory=list)  # (article id, title)
    lost: list[tuple[int, str]] = field(default_factory=list)


def rematch(
    database: Any,
    topics: list[Topic],
    progress: Callable[[int, int, float], None] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Re-score every article against `topics`, replacing its `matches` rows.

    Matches of topics no longer in the file are removed. A match that still holds keeps its
    `matched` time. Each batch is scored and written under one write lock, and a last pass
    (under the same lock as its writes) covers the articles a crawl stored or updated meanwhile,
    so a crawl running alongside cannot leave articles matched against the old topics.
    With `dry_run`, nothing is written: the result says which articles each topic would gain
    and lose. Returns counts per topic before and after, the changes and the speed.
    """
    from monitor import db  # here: the extraction workers import this module, not the database

    before = dict(database.execute("SELECT topic, count(*) FROM matches GROUP BY topic").fetchall())
    total = database.execute("SELECT count(*) FROM articles").fetchone()[0]
    started = time.perf_counter()
    stamp = db.now()
    changes: dict[str, Change] = {}
    done = 0
    last_id = 0
    slugs = [t.slug for t in topics]
    if not dry_run:
        with db.writing(database):
            database.execute(
                f"DELETE FROM matches WHERE topic NOT IN ({','.join('?' * len(slugs))})", slugs
            )
    select = "SELECT id, title, lead, text, published, lang FROM articles "
    while True:
        rows = database.execute(
            select + "WHERE id > ? ORDER BY id LIMIT ?", [last_id, BATCH]
        ).fetchall()
        if not rows:
            # The last pass: whatever a crawl stored or updated since the rematch began, read
            # and written while this process holds the write lock.
            with _lock(database, dry_run):
                since = "" if dry_run else "OR fetched >= ? "  # a dry run reads no one's writes
                rows = database.execute(
                    select + "WHERE id > ? " + since + "ORDER BY id",
                    [last_id, stamp][: 2 - dry_run],
                ).fetchall()
                _apply(database, topics, rows, changes, dry_run)
            done += sum(row[0] > last_id for row in rows)
            break
        with _lock(database, dry_run):
            _apply(database, topics, rows, changes, dry_run)
        done += len(rows)
        last_id = rows[-1][0]
        if progress:
            progress(done, total, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if dry_run:
        after = dict(before)
        for slug in set(before) - set(slugs):
            after.pop(slug)
            changes.setdefault(slug, Change()).lost.extend(_titles(database, slug))
        for slug, change in changes.items():
            if slug in slugs:
                after[slug] = after.get(slug, 0) + len(change.gained) - len(change.lost)
    else:
        after = dict(
            database.execute("SELECT topic, count(*) FROM matches GROUP BY topic").fetchall()
        )
    return {
        "articles": done,
        "seconds": seconds,
        "per_second": done / seconds if seconds else 0.0,
        "before": before,
        "after": after,
        "changes": changes,
    }


def _lock(database: Any, dry_run: bool) -> Any:
    """The write lock for a batch (none for a dry run, which writes nothing)."""
    from monitor import db

    return contextlib.nullcontext() if dry_run else db.writing(database)


def _apply(
    database: Any, topics: list[Topic], rows: list[Any], changes: dict[str, Change], dry: bool
) -> None:
    """Score `rows` and write their matches, or (dry) note the matches gained and lost."""
    from monitor import db

    results = [
        (
            row,
            match_article(
                topics,
                title=row[1] or "",
                lead=row[2] or "",
                text=row[3] or "",
                published=row[4],
                lang=row[5],
            ),
        )
        for row in rows
    ]
    if not dry:
        for row, matches in results:
            db.save_matches(database, row[0], matches)
        return
    ids = [row[0] for row in rows]
    old: dict[int, set[str]] = {}
    for chunk in range(0, len(ids), 900):
        part = ids[chunk : chunk + 900]
        marks = ",".join("?" * len(part))
        query = f"SELECT article_id, topic FROM matches WHERE article_id IN ({marks})"
        for article_id, topic in database.execute(query, part):
            old.setdefault(article_id, set()).add(topic)
    slugs = {t.slug for t in topics}
    for row, matches in results:
        new = {m.topic for m in matches}
        had = old.get(row[0], set()) & slugs
        for slug in new - had:
            changes.setdefault(slug, Change()).gained.append((row[0], row[1] or ""))
        for slug in had - new:
            changes.setdefault(slug, Change()).lost.append((row[0], row[1] or ""))


def _titles(database: Any, slug: str) -> list[tuple[int, str]]:
    return database.execute(
        "SELECT a.id, coalesce(a.title, '') FROM matches m JOIN articles a ON a.id = m.article_id "
        "WHERE m.topic = ? ORDER BY a.id",
        [slug],
    ).fetchall()


def topic_counts(database: Any) -> dict[str, tuple[int, int]]:
    """Per topic: (all matches, matches of articles published or fetched in the last 7 days)."""
    rows = database.execute(
        "SELECT m.topic, count(*), sum(coalesce(a.published, a.fetched) >= date('now', '-7 days')) "
        "FROM matches m JOIN articles a ON a.id = m.article_id GROUP BY m.topic"
    ).fetchall()
    return {topic: (total, recent or 0) for topic, total, recent in rows}
