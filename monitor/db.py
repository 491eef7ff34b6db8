"""The monitor database: opening it, its schema (as migrations) and every write to it.

All SQL that changes data lives here, so the public schema (articles, versions, failures,
crawls, matches) has one home. sqlite-utils is used only in this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import jsonify_if_needed
from sqlite_utils.migrations import Migrations

from monitor.errors import MonitorError

migrations = Migrations("monitor")

FTS_TOKENIZE = "unicode61 remove_diacritics 2"


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["crawls"].create(
        {
            "id": int,
            "outlet": str,
            "started": str,
            "finished": str,
            "status": str,
            "requests": int,
            "new": int,
            "updated": int,
            "failed": int,
            "pid": int,
        },
        pk="id",
    )
    db["crawls"].create_index(["outlet", "started"])
    db["articles"].create(
        {
            "id": int,
            "url": str,
            "outlet": str,
            "lang": str,
            "title": str,
            "lead": str,
            "text": str,
            "published": str,
            "modified": str,
            "author": str,
            "tags": str,
            "fetched": str,
            "content_hash": str,
            "lastmod": str,
            "source": str,
        },
        pk="id",
        not_null={"url"},
    )
    db["articles"].create_index(["url"], unique=True)
    db["articles"].create_index(["published"])
    db["articles"].create_index(["outlet", "published"])
    db["articles"].enable_fts(
        ["title", "lead", "text"], create_triggers=True, tokenize=FTS_TOKENIZE
    )
    db["versions"].create(
        {
            "id": int,
            "article_id": int,
            "fetched": str,
            "title": str,
            "lead": str,
            "text": str,
            "content_hash": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["versions"].create_index(["article_id"])
    db["failures"].create(
        {
            "id": int,
            "crawl_id": int,
            "url": str,
            "status": int,
            "reason": str,
            "at": str,
            "permanent": int,
        },
        pk="id",
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["failures"].create_index(["url"])
    db["failures"].create_index(["crawl_id"])
    db["aliases"].create({"url": str, "article_id": int}, pk="url")
    db["fetch_state"].create(
        {"url": str, "etag": str, "last_modified": str, "since": str, "checked": str}, pk="url"
    )
    db["matches"].create(
        {"article_id": int, "topic": str, "score": float, "evidence": str, "matched": str},
        pk=("article_id", "topic"),
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["matches"].create_index(["topic"])
    # Word-form-insensitive search: stemmed title and text, filled by save_article().
    db.execute(
        "CREATE VIRTUAL TABLE articles_stem_fts USING fts5("
        f"title, lead, text, content='', tokenize='{FTS_TOKENIZE}')"
    )


@migrations()
def m002_schedule(db: sqlite_utils.Database) -> None:
    # The running scheduler's next run time per outlet, for `monitor status`.
    db["schedule"].create(
        {"outlet": str, "next_run": str, "scheduler_pid": int, "updated": str}, pk="outlet"
    )


@migrations()
def m015_outbox(db: sqlite_utils.Database) -> None:
    # Notifications waiting to be sent, sent, or given up (monitor/outbox.py), one row per
    # message and destination; and each outlet's health as last evaluated (monitor/health.py).
    db["outbox"].create(
        {
            "id": int,
            "kind": str,  # match, health
            "destination": str,  # a name from the notification config, never its address
            "topic": str,
            "article_id": int,
            "outlet": str,
            "title": str,
            "body": str,
            "payload": str,
            "created": str,
            "status": str,  # pending, sending, sent, failed
            "attempts": int,
            "due": str,
            "last_error": str,
            "claimed_by": int,
            "claimed": str,
            "delivery": str,  # the message that carried it: single/digest/summary:first id:token
            "sent": str,
        },
        pk="id",
    )
    db.execute(
        "CREATE UNIQUE INDEX outbox_match ON outbox (destination, topic, article_id) "
        "WHERE kind = 'match'"
    )
    db["outbox"].create_index(["status", "destination"])
    # Requests robots.txt forbade in a crawl: outlet health notices when it starts forbidding.
    db["crawls"].add_column("robots_forbidden", int)
    db["outlet_health"].create(
        {
            "outlet": str,
            "state": str,  # healthy, unhealthy, learning, unknown
            "reason": str,
            "since": str,
            "last_success": str,
            "checked": str,
        },
        pk="outlet",
    )


def now() -> str:
    """The current time as ISO 8601 UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def open_db(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path`, in WAL mode, fully migrated.

    Raises MonitorError with a one-line reason when the path cannot be used.
    """
    path = Path(path)
    if path.is_dir():
        raise MonitorError(f"database path {path} is a directory, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MonitorError(f"cannot create the folder of database {path}: {exc.strerror}") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise MonitorError(f"database path {path} is not writable")
    try:
        conn = sqlite3.connect(str(path), timeout=10, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA busy_timeout = 10000")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise MonitorError(f"cannot use database {path}: {exc}") from None
    return db


@contextlib.contextmanager
def writing(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock at once (BEGIN IMMEDIATE).

    Several crawls write to one database at a time. A deferred transaction that reads first
    and writes later fails at once with "database is locked" when another process wrote in
    between (WAL snapshots cannot be upgraded); taking the lock first makes it wait its turn
    (busy_timeout) instead.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")


def content_hash(title: str, lead: str, text: str) -> str:
    """A stable fingerprint of what a reader sees of an article."""
    data = "\x1f".join((title or "", lead or "", text or "")).encode("utf-8")
    return hashlib.sha1(data).hexdigest()


def find_article(db: sqlite_utils.Database, url: str) -> dict[str, Any] | None:
    """The stored article at `url`, or at a URL that once led to it (a redirect, a duplicate)."""
    row = db.execute(
        "SELECT id, published, modified, lastmod FROM articles WHERE url = ? "
        "UNION ALL SELECT a.id, a.published, a.modified, a.lastmod FROM aliases "
        "JOIN articles a ON a.id = aliases.article_id WHERE aliases.url = ? LIMIT 1",
        [url, url],
    ).fetchone()
    if row is None:
        return None
    return {"id": row[0], "published": row[1], "modified": row[2], "lastmod": row[3]}


def is_dead(db: sqlite_utils.Database, url: str) -> bool:
    """True if `url` failed permanently before (404, 410, not HTML, no text)."""
    row = db.execute(
        "SELECT 1 FROM failures WHERE url = ? AND permanent = 1 LIMIT 1", [url]
    ).fetchone()
    return row is not None


def _insert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """db[table].insert(row).last_pk, without sqlite-utils' per-call overhead (the crawl
    inserts a row per page): the same statement, values converted the same way."""
    columns = ", ".join(f"[{column}]" for column in row)
    marks = ", ".join("?" * len(row))
    cursor = db.execute(
        f"INSERT INTO [{table}] ({columns}) VALUES ({marks})",
        [jsonify_if_needed(value) for value in row.values()],
    )
    return cursor.lastrowid


def save_article(
    db: sqlite_utils.Database,
    article: dict[str, Any],
    aliases: Iterable[str] = (),
    stems: tuple[str, str, str] | None = None,
) -> tuple[str, int]:
    """Insert or update one article; return ("new" | "updated" | "unchanged", article id).

    A changed title, lead or text moves the previous content into `versions`. Every URL in
    `aliases` (redirect sources, tracking-parameter variants) is remembered as leading here.
    `stems`: the title, lead and text already stemmed with text.stem_text (by an extraction
    worker); computed here if not given. The caller owns the transaction.
    """
    row = dict(article)
    row["tags"] = json.dumps(row.get("tags") or [], ensure_ascii=False)
    row["content_hash"] = content_hash(row.get("title"), row.get("lead"), row.get("text"))
    row.setdefault("fetched", now())
    existing = db.execute(
        "SELECT id, title, lead, text, content_hash, fetched FROM articles WHERE url = ?",
        [row["url"]],
    ).fetchone()
    if existing is None:
        article_id = _insert(db, "articles", row)
        status = "new"
    else:
        article_id, title, lead, text, old_hash, fetched = existing
        if old_hash == row["content_hash"]:
            # Nothing a reader sees changed: keep the row as it was, but remember a newer
            # sitemap lastmod so the next crawl does not fetch the page again.
            db.execute(
                "UPDATE articles SET lastmod = coalesce(?, lastmod) WHERE id = ?",
                [row.get("lastmod"), article_id],
            )
            status = "unchanged"
        else:
            _insert(
                db,
                "versions",
                {
                    "article_id": article_id,
                    "fetched": fetched,
                    "title": title,
                    "lead": lead,
                    "text": text,
                    "content_hash": old_hash,
                },
            )
            _unindex_stems(db, article_id)
            db["articles"].update(article_id, row)
            status = "updated"
    if status != "unchanged":
        _index_stems(db, article_id, row, stems)
    for url in set(aliases) - {row["url"]}:
        db.execute(
            "INSERT INTO aliases (url, article_id) VALUES (?, ?) "
            "ON CONFLICT(url) DO UPDATE SET article_id = excluded.article_id",
            [url, article_id],
        )
    return status, article_id


def _index_stems(
    db: sqlite_utils.Database,
    article_id: int,
    row: dict[str, Any],
    stems: tuple[str, str, str] | None = None,
) -> None:
    if stems is None:
        from monitor.text import stem_text

        stems = tuple(stem_text(row.get(key) or "") for key in ("title", "lead", "text"))
    db.execute(
        "INSERT INTO articles_stem_fts (rowid, title, lead, text) VALUES (?, ?, ?, ?)",
        [article_id, *stems],
    )


def _unindex_stems(db: sqlite_utils.Database, article_id: int) -> None:
    from monitor.text import stem_text

    # A contentless FTS5 table forgets a row only when given the exact values it indexed.
    old = db.execute("SELECT title, lead, text FROM articles WHERE id = ?", [article_id]).fetchone()
    db.execute(
        "INSERT INTO articles_stem_fts (articles_stem_fts, rowid, title, lead, text) "
        "VALUES ('delete', ?, ?, ?, ?)",
        [article_id, *(stem_text(v or "") for v in old)],
    )


def save_failure(
    db: sqlite_utils.Database,
    *,
    crawl_id: int | None,
    url: str,
    status: int | None,
    reason: str,
    permanent: bool,
) -> None:
    """Record a page that could not be stored."""
    _insert(
        db,
        "failures",
        {
            "crawl_id": crawl_id,
            "url": url,
            "status": status,
            "reason": reason,
            "at": now(),
            "permanent": int(permanent),
        },
    )


def save_matches(db: sqlite_utils.Database, article_id: int, matches: Iterable[Any]) -> None:
    """Replace the topic matches of one article (each with .topic, .score, .evidence)."""
    db.execute("DELETE FROM matches WHERE article_id = ?", [article_id])
    stamp = now()
    for m in matches:
        _insert(
            db,
            "matches",
            {
                "article_id": article_id,
                "topic": m.topic,
                "score": round(m.score, 3),
                "evidence": json.dumps(m.evidence, ensure_ascii=False),
                "matched": stamp,
            },
        )


def start_crawl(db: sqlite_utils.Database, outlet: str, pid: int | None = None) -> int:
    """Insert a `crawls` row for a run that is starting (in process `pid`, by default this
    one); return its id."""
    row = {"outlet": outlet, "started": now(), "status": "running", "pid": pid or os.getpid()}
    return db["crawls"].insert(row).last_pk


def finish_crawl(db: sqlite_utils.Database, crawl_id: int, status: str, **counts: int) -> None:
    """Close a `crawls` row with its outcome and counts."""
    db["crawls"].update(crawl_id, {"finished": now(), "status": status, **counts})


def note_robots_forbidden(db: sqlite_utils.Database, crawl_id: int, count: int) -> None:
    """Record how many requests of a crawl robots.txt forbade (for outlet health)."""
    db.execute("UPDATE crawls SET robots_forbidden = ? WHERE id = ?", [count, crawl_id])


def fetch_state(db: sqlite_utils.Database, url: str) -> dict[str, Any] | None:
    """The validators (ETag, Last-Modified) last seen for a feed, sitemap or listing, and the
    `since` of the crawl that read it in full."""
    row = db.execute(
        "SELECT etag, last_modified, since FROM fetch_state WHERE url = ?", [url]
    ).fetchone()
    return {"etag": row[0], "last_modified": row[1], "since": row[2]} if row else None


def save_fetch_state(
    db: sqlite_utils.Database,
    url: str,
    etag: str | None,
    last_modified: str | None,
    since: str | None,
) -> None:
    """Remember a discovery URL's validators for the next conditional request."""
    db["fetch_state"].upsert(
        {
            "url": url,
            "etag": etag,
            "last_modified": last_modified,
            "since": since,
            "checked": now(),
        },
        pk="url",
    )
