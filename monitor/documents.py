"""Documents the topic tools read: a seed capture, a plain text file, stdin, or a stored article.

`monitor match` scores one of them and `monitor topic draft` learns from a few. A seed capture
(seeds/*.txt) is read as `monitor seed` reads it; another text file (or stdin) is a title on its
first line and the text below; an http(s) URL (or seed:FILE) names an article already stored.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from monitor import db, language, seeding
from monitor.errors import MonitorError


def read_document(source: str, database_path: str | None = None) -> dict[str, Any]:
    """Article fields (title, lead, text, published, lang) of FILE, URL or `-` (stdin)."""
    if source.startswith(("http://", "https://", "seed:")):
        return stored_article(source, database_path)
    if source == "-":
        return plain_text(sys.stdin.read(), "stdin")
    path = Path(source)
    if not path.is_file():
        raise MonitorError(f"{source}: no such file (give a file, an article URL or -)")
    try:
        text = seeding.read_capture(path)
    except (seeding.SeedError, OSError) as exc:
        raise MonitorError(f"{source}: {exc}") from None
    try:
        fields = seeding.parse_capture(text, path.name)
    except seeding.SeedError:
        return plain_text(text, source)
    if fields["outlet"] == "unknown":  # not a page capture: the file is the article
        return plain_text(text, source)
    return fields


def plain_text(text: str, name: str) -> dict[str, Any]:
    """A title on the first non-empty line, the text below it."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise MonitorError(f"{name}: no text")
    body = "\n".join(lines[1:])
    return {
        "title": lines[0],
        "lead": "",
        "text": body,
        "published": None,
        "lang": language.detect("\n".join(lines)),
    }


def stored_article(url: str, database_path: str | None) -> dict[str, Any]:
    """The stored article at `url` (or a URL that led to it)."""
    if database_path is None or not Path(database_path).exists():
        raise MonitorError(f"no database at {database_path} to look up {url}")
    database = db.open_db(database_path)
    found = db.find_article(database, url)
    if found is None:
        raise MonitorError(f"{url}: no stored article at this URL")
    row = database.execute(
        "SELECT title, lead, text, published, lang, url FROM articles WHERE id = ?", [found["id"]]
    ).fetchone()
    keys = ("title", "lead", "text", "published", "lang", "url")
    return dict(zip(keys, row, strict=True))
