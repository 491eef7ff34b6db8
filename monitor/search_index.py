"""The stemmed search index (articles_stem_fts): which analyser built it, keeping it in step with
the articles, and rebuilding it when the analyser changes (`monitor reindex`).

The index holds the word keys of ``monitor.text.stem_text`` for each article's title, lead and
text. Keys depend on the analyser (its rules, seeds/analyser.yml and the Russian dictionary), so
the database records the version of the analyser that built the index (the ``stem_index`` row).

While the recorded version is not this process's analyser, the index is *stale*: a search reads
it with other keys than it was written with, and nothing writes into it. New and changed articles
are stored as usual but stay out of the stale index (they cannot be written in the old keys, and
writing new keys beside old ones would leave a silent mix); `monitor status`, `serve` and `crawl`
say so, and `monitor reindex` rebuilds the whole index, those articles included.

A rebuild writes a second index (``articles_stem_fts_next``) in batches, recording after each
the last article id done, so a rebuild that is stopped or crashes resumes where it stopped; the
old index keeps answering searches meanwhile. Articles stored during a rebuild go into the new
index too once the rebuild has passed them. The last step replaces the old index with the new
one in a single transaction: at no moment is there half an index.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from monitor import db as dbmod
from monitor.errors import MonitorError

INDEX = "articles_stem_fts"
NEXT = "articles_stem_fts_next"
FIELDS = ("title", "lead", "text")
# The analyser before versions were recorded: Snowball Russian and the Kazakh stripper.
LEGACY_VERSION = "1"
BATCH = 1000


@dataclass(frozen=True)
class IndexState:
    """What the database says about its stemmed index."""

    version: str  # the analyser version articles_stem_fts was built with
    building: str | None  # the version a rebuild in progress writes into NEXT
    built_upto: int  # the last article id that rebuild has written

    @property
    def current(self) -> bool:
        return self.version == _analyser_version()


def _analyser_version() -> str:
    from monitor.text import analyser_version

    return analyser_version()


def _stem_fields(values: Any) -> tuple[str, str, str]:
    from monitor.text import stem_text

    return tuple(stem_text(v or "") for v in values)  # type: ignore[return-value]


def create_state(db: sqlite_utils.Database) -> None:
    """The state table, for the migration: a database without articles is built with this
    analyser; one with articles was built with the analyser before versions were recorded."""
    db.execute(
        "CREATE TABLE stem_index (id INTEGER PRIMARY KEY CHECK (id = 1), version TEXT NOT NULL, "
        "building TEXT, built_upto INTEGER NOT NULL DEFAULT 0, updated TEXT)"
    )
    has_articles = db.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is not None
    version = LEGACY_VERSION if has_articles else _analyser_version()
    db.execute(
        "INSERT INTO stem_index (id, version, updated) VALUES (1, ?, ?)", [version, dbmod.now()]
    )


def state(db: sqlite_utils.Database) -> IndexState:
    """The index's recorded analyser version and any rebuild in progress."""
    row = db.execute("SELECT version, building, built_upto FROM stem_index WHERE id = 1").fetchone()
    if row is None:
        return IndexState(LEGACY_VERSION, None, 0)
    return IndexState(row[0], row[1], row[2] or 0)


def stale_warning(db: sqlite_utils.Database) -> str | None:
    """A one-line warning when the index was built by another analyser than this one; else None."""
    current = state(db)
    if current.current:
        return None
    message = (
        f"Warning: the search index was built by word analyser {current.version}, not "
        f"{_analyser_version()}: search misses word forms and new articles until you run "
        "`monitor reindex`"
    )
    if current.building == _analyser_version():
        message += f" (a rebuild stopped after article {current.built_upto}; it resumes there)"
    return message


def _targets(db: sqlite_utils.Database, article_id: int) -> list[str]:
    """The indexes written with this analyser that must reflect the article."""
    current = state(db)
    version = _analyser_version()
    targets = [INDEX] if current.version == version else []
    if current.building == version and article_id <= current.built_upto:
        targets.append(NEXT)
    return targets


def add(
    db: sqlite_utils.Database,
    article_id: int,
    row: dict[str, Any],
    stems: tuple[str, str, str] | None = None,
) -> None:
    """Index a stored article (its new content). Nothing is written into a stale index."""
    targets = _targets(db, article_id)
    if not targets:
        return
    if stems is None:
        stems = _stem_fields(row.get(key) for key in FIELDS)
    for table in targets:
        db.execute(
            f"INSERT INTO {table} (rowid, title, lead, text) VALUES (?, ?, ?, ?)",
            [article_id, *stems],
        )


def remove(db: sqlite_utils.Database, article_id: int) -> None:
    """Unindex an article's stored content, before it is replaced."""
    targets = _targets(db, article_id)
    if not targets:
        return
    old = db.execute("SELECT title, lead, text FROM articles WHERE id = ?", [article_id]).fetchone()
    if old is None:
        return
    stems = _stem_fields(old)
    for table in targets:
        # A contentless FTS5 table forgets a row only when given the exact values it indexed:
        # the same analyser wrote them, so the same analyser recomputes them.
        db.execute(
            f"INSERT INTO {table} ({table}, rowid, title, lead, text) "
            "VALUES ('delete', ?, ?, ?, ?)",
            [article_id, *stems],
        )


def _create_next(db: sqlite_utils.Database) -> None:
    db.execute(f"DROP TABLE IF EXISTS {NEXT}")
    db.execute(
        f"CREATE VIRTUAL TABLE {NEXT} USING fts5("
        f"title, lead, text, content='', tokenize='{dbmod.FTS_TOKENIZE}')"
    )


def reindex(
    db: sqlite_utils.Database,
    batch: int = BATCH,
    progress: Callable[[int, int, float], None] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Rebuild the index with this analyser, resuming a rebuild that stopped.

    Returns what was done: "status" ("current": nothing to do, "rebuilt"), "articles" written,
    "resumed_after" (article id, 0 for a fresh start), "seconds", "version". `progress` is
    called after each batch with (articles done, articles in all, seconds).
    """
    version = _analyser_version()
    started = time.perf_counter()
    with dbmod.writing(db):
        current = state(db)
        if current.building != version:
            if current.version == version and not force:
                return {"status": "current", "articles": 0, "resumed_after": 0, "seconds": 0.0,
                        "version": version}  # fmt: skip
            _create_next(db)
            db.execute(
                "UPDATE stem_index SET building = ?, built_upto = 0, updated = ? WHERE id = 1",
                [version, dbmod.now()],
            )
            upto = 0
        else:
            upto = current.built_upto
    resumed_after = upto
    total = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    done = db.execute("SELECT count(*) FROM articles WHERE id <= ?", [upto]).fetchone()[0]
    written = 0
    while True:
        rows = db.execute(
            "SELECT id, content_hash, title, lead, text FROM articles WHERE id > ? "
            "ORDER BY id LIMIT ?",
            [upto, batch],
        ).fetchall()
        if not rows:
            break
        stems = {row[0]: (row[1], _stem_fields(row[2:])) for row in rows}  # outside the lock
        with dbmod.writing(db):
            _check_owner(db, version, upto)
            written += _write_batch(db, stems, upto, rows[-1][0])
            upto = rows[-1][0]
            db.execute(
                "UPDATE stem_index SET built_upto = ?, updated = ? WHERE id = 1",
                [upto, dbmod.now()],
            )
        done += len(rows)
        if progress:
            progress(done, max(total, done), time.perf_counter() - started)
    with dbmod.writing(db):
        _check_owner(db, version, upto)
        # Articles stored after the last batch was read.
        late = db.execute("SELECT max(id) FROM articles").fetchone()[0] or 0
        if late > upto:
            rows = db.execute(
                "SELECT id, content_hash, title, lead, text FROM articles WHERE id > ?", [upto]
            ).fetchall()
            written += _write_batch(
                db, {r[0]: (r[1], _stem_fields(r[2:])) for r in rows}, upto, late
            )
        db.execute(f"DROP TABLE {INDEX}")
        db.execute(f"ALTER TABLE {NEXT} RENAME TO {INDEX}")
        db.execute(
            "UPDATE stem_index SET version = ?, building = NULL, built_upto = 0, updated = ? "
            "WHERE id = 1",
            [version, dbmod.now()],
        )
    return {
        "status": "rebuilt",
        "articles": written,
        "resumed_after": resumed_after,
        "seconds": time.perf_counter() - started,
        "version": version,
    }


def _check_owner(db: sqlite_utils.Database, version: str, upto: int) -> None:
    """Inside the write transaction: the rebuild is still this one's, where this one left it."""
    current = state(db)
    if current.building is None:
        raise MonitorError("another `monitor reindex` finished the rebuild meanwhile")
    if current.building != version:
        raise MonitorError(
            "another `monitor reindex` with a different word analyser took over the rebuild"
        )
    if current.built_upto != upto:
        raise MonitorError("another `monitor reindex` is rebuilding the search index")


def _write_batch(
    db: sqlite_utils.Database,
    stems: dict[int, tuple[str, tuple[str, str, str]]],
    after: int,
    last: int,
) -> int:
    """Write the stems of articles after..last into NEXT, inside the caller's transaction.

    An article changed since its stems were computed (a crawl stored a new version meanwhile)
    is stemmed again from what is stored now."""
    rows = db.execute(
        "SELECT id, content_hash, title, lead, text FROM articles WHERE id > ? AND id <= ?",
        [after, last],
    ).fetchall()
    for article_id, content_hash, *values in rows:
        known = stems.get(article_id)
        fields = known[1] if known and known[0] == content_hash else _stem_fields(values)
        db.execute(
            f"INSERT INTO {NEXT} (rowid, title, lead, text) VALUES (?, ?, ?, ?)",
            [article_id, *fields],
        )
    return len(rows)
