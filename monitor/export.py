"""Exports of a topic's matches: every matching article with its text, as CSV, JSON Lines or JSON.

Rows are streamed from SQLite one at a time, so an export of any size uses little memory and has
no row cap. The columns are the same in every format and in Datasette's export of the topic.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, TextIO

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
  and (:until is null or substr(a.published, 1, 10) <= :until)
  and (:outlet is null or a.outlet = :outlet)
  and (:lang is null or a.lang = :lang)
  and (:min_score is null or m.score >= :min_score)
order by a.published is null, a.published desc, m.matched desc, a.id desc
"""


@dataclass(frozen=True)
class Filters:
    """Which of a topic's matches: published from `since` to `until` (YYYY-MM-DD, inclusive;
    either excludes undated articles), of one outlet or language, scoring at least `min_score`."""

    since: str | None = None
    until: str | None = None
    outlet: str | None = None
    lang: str | None = None
    min_score: float | None = None

    def params(self, topic: str) -> dict[str, Any]:
        return {"topic": topic, **asdict(self)}


def known_topics(db: Any) -> list[str]:
    """The topics that have matches in the database."""
    return [row[0] for row in db.execute("select distinct topic from matches order by topic")]


def count(db: Any, topic: str, filters: Filters = Filters()) -> int:
    """How many rows `rows` yields for the same arguments."""
    return db.execute(f"select count(*) from ({_SQL})", filters.params(topic)).fetchone()[0]


def rows(
    db: Any, topic: str, filters: Filters = Filters(), offset: int = 0, limit: int = -1
) -> Iterator[dict]:
    """The topic's matches, newest publication first, undated articles last. `db` is a
    sqlite_utils Database or a sqlite3 connection."""
    sql = f"{_SQL} limit :limit offset :offset"
    cursor = db.execute(sql, {**filters.params(topic), "limit": limit, "offset": offset})
    for row in cursor:
        yield dict(zip(COLUMNS, row, strict=True))


class Encoder:
    """Writes records one at a time in one format: start(), record() for each, end()."""

    def __init__(self, fmt: str):
        if fmt not in FORMATS:
            raise MonitorError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
        self.fmt = fmt
        self.count = 0
        self._buffer = io.StringIO()
        self._csv = csv.DictWriter(self._buffer, fieldnames=COLUMNS, lineterminator="\n")

    def _take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text

    def start(self) -> str:
        if self.fmt == "csv":
            self._csv.writeheader()
            return self._take()
        return "[" if self.fmt == "json" else ""

    def record(self, record: dict[str, Any]) -> str:
        self.count += 1
        if self.fmt == "csv":
            self._csv.writerow(record)
            return self._take()
        line = json.dumps(record, ensure_ascii=False)
        if self.fmt == "jsonl":
            return line + "\n"
        return ("\n" if self.count == 1 else ",\n") + line

    def end(self) -> str:
        if self.fmt != "json":
            return ""
        return "\n]\n" if self.count else "]\n"


def chunks(records: Iterable[dict[str, Any]], fmt: str) -> Iterator[str]:
    """The export document in pieces: a header, one piece per record, a footer."""
    encoder = Encoder(fmt)
    yield encoder.start()
    for record in records:
        yield encoder.record(record)
    yield encoder.end()


def write(
    out: TextIO,
    records: Iterable[dict[str, Any]],
    fmt: str,
    progress: Callable[[], None] | None = None,
) -> int:
    """Write the records to `out` in `fmt`; return how many were written."""
    written = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal written
        for record in records:
            yield record
            written += 1
            if progress is not None:
                progress()

    for piece in chunks(counted(), fmt):
        out.write(piece)
    return written
