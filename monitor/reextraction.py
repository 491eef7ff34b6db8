"""Re-extraction: the current extraction code run over the archived pages, without recrawling.

After the extraction code, an outlet's profile or a learned template changes, `monitor
reextract` takes each stored article's latest archived 200 page (monitor/archive.py), extracts
it again in worker processes (the crawl's own job: monitor/workers.py), and stores the result as
a crawl would: an article whose title, lead or text really changed gets a `versions` row
(`replaced_by` = "reextract", so an extraction change is never shown as an outlet's edit), its
search index and topic matches are redone; every article records the EXTRACTION_VERSION that
produced it. Progress is committed every few hundred pages in `reextract_runs`, so a run that is
interrupted resumes where it stopped when started again with the same selection.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from monitor import archive, db, extraction, outlets, workers

BATCH = 200


def extract_if_changed(
    body: bytes, url: str, content_type: str | None, profile: Any, old_hash: str | None
) -> tuple[dict[str, Any], Any, Any]:
    """In a worker: extract the page; stems and topic matches only if the content changed
    (most re-extractions change nothing, and those are the costly part after extraction)."""
    fields = extraction.extract(body, url, content_type, profile)
    if db.content_hash(fields.get("title"), fields.get("lead"), fields.get("text")) == old_hash:
        return fields, None, None
    from monitor.matching import match
    from monitor.text import stem_text

    stems = tuple(stem_text(fields.get(key) or "") for key in ("title", "lead", "text"))
    return fields, stems, match(workers._worker_topics, fields)


@dataclass
class Result:
    """What a run did."""

    pages: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    missing: int = 0  # articles without a readable archived page
    seconds: float = 0.0
    resumed_from: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def _selection(slugs: list[str], since: str | None) -> str:
    return json.dumps({"outlets": sorted(slugs), "since": since})


def _targets(
    database: sqlite_utils.Database, slugs: list[str], since: str | None, after: int
) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    """(article id, outlet, url, latest 200 capture) of the selected articles, by id."""
    where, params = ["a.id > ?", "a.source = 'crawl'"], [after]
    if slugs:
        where.append(f"a.outlet in ({', '.join('?' * len(slugs))})")
        params += slugs
    sql = (
        "select a.id, a.outlet, a.url, c.file, c.offset, c.length, c.url, c.fetched, "
        "a.content_hash "
        "from articles a join captures c on c.id = (select c2.id from captures c2 "
        "where c2.article_id = a.id and c2.status = 200 order by c2.fetched desc, c2.id desc "
        f"limit 1) where {' and '.join(where)}"
    )
    if since:
        sql += " and c.fetched >= ?"
        params.append(since)
    sql += " order by a.id"
    for row in database.execute(sql, params):
        yield (
            row[0],
            row[1],
            row[2],
            {
                "file": row[3],
                "offset": row[4],
                "length": row[5],
                "url": row[6],
                "fetched": row[7],
                "content_hash": row[8],
            },
        )


def count_targets(database: sqlite_utils.Database, slugs: list[str], since: str | None) -> int:
    return sum(1 for _ in _targets(database, slugs, since, 0))


def reextract(
    db_path: str | os.PathLike[str],
    registry: dict[str, outlets.Outlet],
    slugs: list[str],
    *,
    since: str | None = None,
    topics_path: str | None = None,
    processes: int = 2,
    restart: bool = False,
    progress: Callable[[int, int, float], None] | None = None,
    batch: int = BATCH,
) -> Result:
    """Re-extract the selected articles from the archive; resume an interrupted run unless
    `restart`. `progress(done, total, seconds)` is called after every batch."""
    database = db.open_db(db_path)
    root = archive.archive_dir(db_path)
    selection = _selection(slugs, since)
    result = Result()
    run = None
    if not restart:
        run = database.execute(
            "select id, last_article_id, pages, updated from reextract_runs "
            "where selection = ? and finished is null order by id desc limit 1",
            [selection],
        ).fetchone()
    if run is None:
        run_id = (
            database["reextract_runs"]
            .insert({"selection": selection, "started": db.now(), "last_article_id": 0, "pages": 0})
            .last_pk
        )
        after, done_before = 0, 0
    else:
        run_id, after, done_before, _ = run
        result.resumed_from = after or 0
        after = after or 0
        done_before = done_before or 0
    total = done_before + sum(1 for _ in _targets(database, slugs, since, after))
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max(1, processes),
        mp_context=context,
        initializer=workers._warm_up,
        initargs=(topics_path, os.getpid()),
    )
    try:
        size, batch = batch, []
        for article_id, outlet, url, capture in _targets(database, slugs, since, after):
            entry = registry.get(outlet)
            try:
                record = archive.read_capture(
                    root, capture["file"], capture["offset"], capture["length"]
                )
                body = record.decoded_body()
            except (OSError, ValueError) as exc:
                result.missing += 1
                result.errors.append(f"article {article_id}: {exc}")
                continue
            profile = entry.extraction if entry is not None else None
            future = pool.submit(
                extract_if_changed,
                body,
                capture["url"],
                record.header("Content-Type"),
                profile,
                capture["content_hash"],
            )
            batch.append((article_id, outlet, url, capture, future))
            if len(batch) >= size:
                _store(database, batch, result, run_id)
                batch = []
                if progress:
                    progress(done_before + result.pages, total, time.perf_counter() - started)
        _store(database, batch, result, run_id)
        database["reextract_runs"].update(run_id, {"finished": db.now()})
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    result.seconds = time.perf_counter() - started
    if progress:
        progress(done_before + result.pages, total, result.seconds)
    return result


def _store(
    database: sqlite_utils.Database,
    batch: list[tuple[int, str, str, dict[str, Any], Any]],
    result: Result,
    run_id: int,
) -> None:
    """Wait for a batch's extractions and store them in one transaction, with the progress."""
    if not batch:
        return
    outcomes = []
    for article_id, outlet, url, capture, future in batch:
        try:
            outcomes.append((article_id, outlet, url, capture, future.result()))
        except extraction.ExtractionError as exc:
            outcomes.append((article_id, outlet, url, capture, exc))
        except Exception as exc:  # a bug or a pathological page: counted, the run goes on
            outcomes.append((article_id, outlet, url, capture, exc))
    updated_before = result.updated
    with db.writing(database):
        for article_id, outlet, url, capture, outcome in outcomes:
            result.pages += 1
            if isinstance(outcome, Exception):
                result.failed += 1
                result.errors.append(f"article {article_id}: {outcome}")
                continue
            fields, stems, matches = outcome
            current = database.execute(
                "select lastmod, source from articles where id = ?", [article_id]
            ).fetchone()
            fields.update(
                url=url,
                outlet=outlet,
                lastmod=current[0],
                source=current[1],
                fetched=capture["fetched"],
                extraction_version=extraction.EXTRACTION_VERSION,
            )
            status, _ = db.save_article(database, fields, stems=stems)
            if status == "updated":
                result.updated += 1
                database.execute(
                    "update versions set replaced_by = 'reextract' where id = "
                    "(select max(id) from versions where article_id = ?)",
                    [article_id],
                )
                db.save_matches(database, article_id, matches)
            else:
                result.unchanged += 1
        database.execute(
            "update reextract_runs set last_article_id = ?, pages = coalesce(pages, 0) + ?, "
            "updated = coalesce(updated, 0) + ? where id = ?",
            [batch[-1][0], len(batch), result.updated - updated_before, run_id],
        )
