"""Exports of a topic's matches: every matching article with its text, as CSV, JSON Lines or JSON.

Rows are streamed from SQLite one at a time, so an export of any size uses little memory and has
no row cap. The columns are the same in every format and in Datasette's export of the topic.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import sqlite_utils

from monitor.errors import MonitorError

FORMATS = ("csv", "jsonl", "json")
COLUMNS = (
    "topic",
    "score",
    "matched",
    "published",
    "modified",
    "outlet",
    "lang",
    "url",
    "title",
    "lead",
    "text",
    "author",
)

_SQL = """
select m.topic, m.score, m.matched, a.published, a.modified, a.outlet, a.lang, a.url, a.title,
  a.lead, a.text, a.author
from matches m join articles a on a.id = m.article_id
where m.topic = :topic
  and (:since is null or substr(a.published, 1, 10) >= :since)
order by a.published is null, a.published desc, m.matched desc
"""


def known_topics(db: sqlite_utils.Database) -> list[str]:
    """The topics that have matches in the database."""
    return [row[0] for row in db.execute("select distinct topic from matches order by topic")]


def count(db: sqlite_utils.Database, topic: str, since: str | None = None) -> int:
    """How many rows `rows` yields for the same arguments."""
    sql = f"select count(*) from ({_SQL})"
    return db.execute(sql, {"topic": topic, "since": since}).fetchone()[0]


def rows(db: sqlite_utils.Database, topic: str, since: str | None = None) -> Iterator[dict]:
    """The topic's matches, newest publication first, undated articles last."""
    cursor = db.execute(_SQL, {"topic": topic, "since": since})
    for row in cursor:
        yield dict(zip(COLUMNS, row, strict=True))


def write(
    out: TextIO,
    records: Iterator[dict[str, Any]],
    fmt: str,
    progress: Callable[[], None] | None = None,
) -> int:
    """Write the records to `out` in `fmt`; return how many were written."""
    if fmt not in FORMATS:
        raise MonitorError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    written = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
    elif fmt == "json":
        out.write("[")
    for record in records:
        if fmt == "csv":
            writer.writerow(record)
        else:
            line = json.dumps(record, ensure_ascii=False)
            if fmt == "json":
                out.write(("," if written else "") + "\n" + line)
            else:
                out.write(line + "\n")
        written += 1
        if progress is not None:
            progress()
    if fmt == "json":
        out.write("\n]\n" if written else "]\n")
    return written
