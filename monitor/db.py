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
from collections.abc import Callable, Iterable, Iterator
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
def m003_alias_lastmod(db: sqlite_utils.Database) -> None:
    # The sitemap lastmod of each URL that leads to an article (a redirect source), kept apart
    # from the article's own, so a redirect's lastmod never hides a later edit of its target.
    db["aliases"].add_column("lastmod", str)


@migrations()
def m012_analyser(db: sqlite_utils.Database) -> None:
    # The word analyser version the stemmed index was built with (monitor/search_index.py).
    from monitor import search_index

    search_index.create_state(db)


@migrations()
def m013_templates(db: sqlite_utils.Database) -> None:
    # Each outlet's template (monitor/template.py): the blocks it repeats on its pages, learned
    # by the crawls, so that a new crawl starts from what the last one learned.
    db["templates"].create({"outlet": str, "pages": int, "data": str, "updated": str}, pk="outlet")


@migrations()
def m014_captures(db: sqlite_utils.Database) -> None:
    # The web archive (monitor/archive.py): each archived fetch, where its WARC record is.
    db["captures"].create(
        {
            "id": int,
            "article_id": int,
            "url": str,
            "outlet": str,
            "file": str,
            "offset": int,
            "length": int,
            "status": int,
            "fetched": str,
            "digest": str,
            "content_type": str,
            "kind": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["captures"].create_index(["article_id"])
    db["captures"].create_index(["url"])
    db["captures"].create_index(["outlet", "fetched"])
    # The extraction code that produced each article (extraction.EXTRACTION_VERSION).
    db["articles"].add_column("extraction_version", int)
    # What replaced each version: NULL for the outlet's own edit found by a crawl, "recheck" for
    # one found by a recheck, "reextract" for new extraction code run over the archived page.
    db["versions"].add_column("replaced_by", str)
    # `monitor reextract` runs, so an interrupted one resumes where it stopped.
    db["reextract_runs"].create(
        {
            "id": int,
            "selection": str,
            "started": str,
            "finished": str,
            "last_article_id": int,
            "pages": int,
            "updated": int,
        },
        pk="id",
    )
    # Rechecks (monitor/recheck.py): the schedule of each article, and the removals found.
    db["rechecks"].create(
        {
            "article_id": int,
            "due": str,
            "step": int,
            "checked": str,
            "status": int,
            "etag": str,
            "last_modified": str,
            "transient": int,
            "gone": str,
            "gone_count": int,
        },
        pk="article_id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["rechecks"].create_index(["due"])
    db["removals"].create(
        {
            "id": int,
            "article_id": int,
            "url": str,
            "detected": str,
            "reason": str,
            "status": int,
            "final_url": str,
            "capture_id": int,
            "evidence": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id"), ("capture_id", "captures", "id")],
    )
    db["removals"].create_index(["article_id"], unique=True)


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


def busy_timeout() -> float:
    """Seconds a write waits for another process's lock before "database is locked"
    (MONITOR_BUSY_TIMEOUT)."""
    from monitor import settings

    return settings.MONITOR_BUSY_TIMEOUT


def is_locked(exc: BaseException) -> bool:
    """True if a database error means another process holds the lock (and may let go)."""
    message = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message)


def describe_error(exc: sqlite3.Error, path: str | os.PathLike[str]) -> str:
    """A one-line explanation of a database error for the person running a command."""
    if is_locked(exc):
        return (
            f"database {path} is locked by another process (waited {busy_timeout():g} s, "
            "MONITOR_BUSY_TIMEOUT); try again when it is free"
        )
    return f"database {path}: {exc}"


def open_db(path: str | os.PathLike[str], timeout: float | None = None) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path`, in WAL mode, fully migrated.

    A write waits up to `timeout` seconds (default: busy_timeout()) for another process's lock.
    Raises MonitorError with a one-line reason when the path cannot be used, and refuses a
    SQLite file that holds tables of something else (an empty one is ours to fill).
    """
    if timeout is None:
        timeout = busy_timeout()
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
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        _check_ours(db, path)
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        if is_locked(exc):
            raise MonitorError(describe_error(exc, path)) from None
        raise MonitorError(f"cannot use database {path}: {exc}") from None
    return db


def _check_ours(db: sqlite_utils.Database, path: Path) -> None:
    """Refuse a database that has tables but was never migrated by monitor: `monitor status`
    or a crawl pointed at another program's file must not add twenty tables to it."""
    tables = [
        t
        for t in db.table_names()
        if not t.startswith("sqlite_") and t != migrations.migrations_table
    ]
    if tables and not migrations.applied(db):
        db.conn.close()
        shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise MonitorError(
            f"{path} is not a monitor database (it has other tables: {shown}); "
            "give an empty or new file with --db"
        )


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
    """The stored article at `url`, or at a URL that once led to it (a redirect, a duplicate).

    Its `lastmod` is the sitemap lastmod last seen for `url` itself: the article's own for its
    URL, the alias's for a URL that leads to it.
    """
    row = db.execute(
        "SELECT id, published, modified, lastmod FROM articles WHERE url = ? "
        "UNION ALL SELECT a.id, a.published, a.modified, aliases.lastmod FROM aliases "
        "JOIN articles a ON a.id = aliases.article_id WHERE aliases.url = ? LIMIT 1",
        [url, url],
    ).fetchone()
    if row is None:
        return None
    return {"id": row[0], "published": row[1], "modified": row[2], "lastmod": row[3]}


def is_dead(db: sqlite_utils.Database, url: str, lastmod: datetime | None = None) -> bool:
    """True if `url` failed permanently before (404, 410, not HTML, no text, timeouts in a
    row) and its sitemap `lastmod`, if given, does not say it changed since."""
    row = db.execute(
        "SELECT max(at) FROM failures WHERE url = ? AND permanent = 1", [url]
    ).fetchone()
    if row[0] is None:
        return False
    failed = datetime.fromisoformat(row[0])
    return lastmod is None or lastmod <= failed.replace(tzinfo=failed.tzinfo or UTC)


def timeouts_in_a_row(db: sqlite_utils.Database, url: str, limit: int = 100) -> int:
    """How many of the latest failures of `url` are timeouts, counting back to another kind."""
    count = 0
    for (reason,) in db.execute(
        "SELECT reason FROM failures WHERE url = ? ORDER BY id DESC LIMIT ?", [url, limit]
    ):
        if not (reason or "").startswith("timeout"):
            break
        count += 1
    return count


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
    lastmods: dict[str, str | None] | None = None,
) -> tuple[str, int]:
    """Insert or update one article; return ("new" | "updated" | "unchanged", article id).

    A changed title, lead or text moves the previous content into `versions`. Every URL in
    `aliases` (redirect sources, tracking-parameter variants) is remembered as leading here.
    `stems`: the title, lead and text already stemmed with text.stem_text (by an extraction
    worker); computed here if not given. `lastmods`: the sitemap lastmod of alias URLs (a
    redirect source's own, never the article's). The caller owns the transaction.
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
                "UPDATE articles SET lastmod = coalesce(?, lastmod), "
                "extraction_version = coalesce(?, extraction_version) WHERE id = ?",
                [row.get("lastmod"), row.get("extraction_version"), article_id],
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
            "INSERT INTO aliases (url, article_id, lastmod) VALUES (?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET article_id = excluded.article_id, "
            "lastmod = coalesce(excluded.lastmod, lastmod)",
            [url, article_id, (lastmods or {}).get(url)],
        )
    return status, article_id


def _index_stems(
    db: sqlite_utils.Database,
    article_id: int,
    row: dict[str, Any],
    stems: tuple[str, str, str] | None = None,
) -> None:
    from monitor import search_index

    search_index.add(db, article_id, row, stems)


def _unindex_stems(db: sqlite_utils.Database, article_id: int) -> None:
    from monitor import search_index

    search_index.remove(db, article_id)


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
    """Replace the topic matches of one article (each with .topic, .score, .evidence).

    A topic the article matched before keeps its `matched` time: only a new match is new.
    """
    kept = dict(db.execute("SELECT topic, matched FROM matches WHERE article_id = ?", [article_id]))
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
                "matched": kept.get(m.topic) or stamp,
            },
        )


def start_crawl(
    db: sqlite_utils.Database, outlet: str, pid: int | None = None, started: str | None = None
) -> int:
    """Insert a `crawls` row for a run that is starting (in process `pid`, by default this
    one; at `started`, by default now); return its id."""
    row = {
        "outlet": outlet,
        "started": started or now(),
        "status": "running",
        "pid": pid or os.getpid(),
    }
    return _insert(db, "crawls", row)


def finish_crawl(db: sqlite_utils.Database, crawl_id: int, status: str, **counts: int) -> None:
    """Close a `crawls` row with its outcome and counts."""
    row = {"finished": now(), "status": status, **counts}
    db.execute(
        f"UPDATE crawls SET {', '.join(f'[{k}] = ?' for k in row)} WHERE id = ?",
        [*row.values(), crawl_id],
    )


def close_dead_crawls(
    db: sqlite_utils.Database, alive: Callable[[int | None, str | None], bool]
) -> int:
    """Mark `killed` every `running` crawl for which alive(pid, started) is false; return how
    many. Its `finished` stays empty: when it died is not known."""
    rows = db.execute("SELECT id, pid, started FROM crawls WHERE status = 'running'").fetchall()
    dead = [crawl_id for crawl_id, pid, started in rows if not alive(pid, started)]
    if dead:
        with writing(db):
            marks = ", ".join("?" * len(dead))
            db.execute(
                f"UPDATE crawls SET status = 'killed' WHERE status = 'running' AND id IN ({marks})",
                dead,
            )
    return len(dead)


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


def load_template(db: sqlite_utils.Database, outlet: str) -> str | None:
    """The outlet's stored template (Template.dumps()), or None before its first crawl."""
    row = db.execute("SELECT data FROM templates WHERE outlet = ?", [outlet]).fetchone()
    return row[0] if row else None


def save_template(db: sqlite_utils.Database, outlet: str, pages: int, data: str) -> None:
    with writing(db):
        db["templates"].upsert(
            {"outlet": outlet, "pages": pages, "data": data, "updated": now()}, pk="outlet"
        )
