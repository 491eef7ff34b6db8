"""Evidence on the article page: the archived captures, word-level edits, and removals.

- `/-/capture/ID` downloads the page of capture ID exactly as the outlet served it (the payload
  of its WARC response record), as an attachment in text/plain with `nosniff` and a sandboxing
  Content-Security-Policy, so a browser never renders it; `/-/capture/ID.warc.gz` downloads the
  WARC record itself (application/warc), which archive tools open.
- The article page (templates/row-monitor-articles.html) gets `evidence`: its captures, its
  removal if one was found, how many times the outlet edited it after publication, and each edit
  as a word-level diff (monitor/edits.py) of the title, lead and text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils import urlsafe_components
from datasette.utils.asgi import Response

from monitor import archive
from monitor.edits import changed_lines, changed_words, word_diff

DATABASE = "monitor"
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)


def _archive_root(datasette) -> Path | None:
    db = datasette.databases.get(DATABASE)
    if db is None or not db.path:
        return None
    return archive.archive_dir(db.path)


async def capture_download(datasette, request) -> Response:
    capture_id = request.url_vars["id"]
    as_warc = bool(request.url_vars.get("warc"))
    root = _archive_root(datasette)
    if root is None:
        return Response.text("No database", status=404)
    db = datasette.get_database(DATABASE)
    row = (
        await db.execute(
            "select id, file, offset, length, content_type from captures where id = ?",
            [capture_id],
        )
    ).first()
    if row is None:
        return Response.text(f"No capture {capture_id}", status=404)
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, max-age=3600",
    }
    try:
        if as_warc:
            data = archive.read_raw(root, row["file"], row["offset"], row["length"])
            headers["Content-Disposition"] = f'attachment; filename="capture-{row["id"]}.warc.gz"'
            return Response(data, status=200, headers=headers, content_type="application/warc")
        record = archive.read_capture(root, row["file"], row["offset"], row["length"])
        body = record.decoded_body()
    except (OSError, ValueError) as exc:
        return Response.text(f"Capture {capture_id} cannot be read: {exc}", status=410)
    match = _CHARSET.search(row["content_type"] or "")
    content_type = "text/plain" + (f"; charset={match.group(1)}" if match else "")
    headers["Content-Disposition"] = f'attachment; filename="capture-{row["id"]}.html.txt"'
    return Response(body, status=200, headers=headers, content_type=content_type)


@hookimpl
def register_routes():
    return [(r"^/-/capture/(?P<id>\d+)(?P<warc>\.warc\.gz)?$", capture_download)]


async def _rows(db, sql: str, params: Any = None) -> list[dict[str, Any]]:
    return [dict(row) for row in (await db.execute(sql, params or [])).rows]


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    fields = {key: word_diff(old.get(key), new.get(key)) for key in ("title", "lead", "text")}
    deleted = inserted = 0
    for segments in fields.values():
        d, i = changed_words(segments)
        deleted, inserted = deleted + d, inserted + i
    changed = [key for key, segs in fields.items() if any(s.op != "same" for s in segs)]
    lines = changed_lines(fields["text"])
    paragraphs = len([p for p in (new.get("text") or "").splitlines() if p.strip()])
    return {
        **fields,
        "text_lines": lines,
        "unchanged_paragraphs": max(paragraphs - len(lines), 0),
        "changed": changed,
        "deleted": deleted,
        "inserted": inserted,
    }


async def article_evidence(db, article_id: str) -> dict[str, Any]:
    article = (
        await db.execute(
            "select id, title, lead, text, fetched, published from articles where id = ?",
            [article_id],
        )
    ).first()
    if article is None:
        return {}
    article = dict(article)
    versions = await _rows(
        db,
        "select id, fetched, title, lead, text, replaced_by from versions "
        "where article_id = ? order by fetched, id",
        [article_id],
    )
    edits = []
    chain = [*versions, {**article, "replaced_by": None}]
    for older, newer in zip(chain, chain[1:], strict=False):
        edit = _diff(older, newer)
        edit.update(
            before=older["fetched"],
            after=newer["fetched"],
            cause=older.get("replaced_by") or "edit",
        )
        edits.append(edit)
    edits.reverse()  # newest first
    captures = await _rows(
        db,
        "select id, url, fetched, status, length, digest, kind from captures "
        "where article_id = ? order by fetched desc, id desc",
        [article_id],
    )
    removal = (
        await db.execute(
            "select detected, reason, status, final_url, capture_id from removals "
            "where article_id = ?",
            [article_id],
        )
    ).first()
    return {
        "edits": edits,
        "edited": sum(1 for e in edits if e["cause"] != "reextract"),
        "captures": captures,
        "removal": dict(removal) if removal else None,
    }


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    if view_name != "row" or database != DATABASE or table != "articles" or not request:
        return {}
    if DATABASE not in datasette.databases:
        return {}
    db = datasette.get_database(DATABASE)

    async def evidence() -> dict[str, Any]:
        pks = urlsafe_components(request.url_vars["pks"])
        return {"evidence": await article_evidence(db, pks[0])} if len(pks) == 1 else {}

    return evidence
