"""Russian and Kazakh word-form search in Datasette's SQL, and the hits highlighted.

Registered on every Datasette connection, so canned queries can search the stemmed index:

    select a.* from articles_stem_fts s join articles a on a.id = s.rowid
    where articles_stem_fts match stem_query(:q) order by s.rank

stem_query() and search_snippet() come from monitor/search.py (the syntax a person may type is
described there; `monitor search` uses the same functions), stem() from monitor/text.py. On the
HTML pages of the canned queries, the words of a ``snippet`` column that the query found are
wrapped in <mark> (the text itself escaped); JSON and CSV keep the plain snippet.
"""

from __future__ import annotations

import contextvars
import time
from urllib.parse import parse_qs

from datasette import hookimpl
from markupsafe import Markup, escape

from monitor.search import NOTHING, hits, search_snippet, stem_query  # noqa: F401
from monitor.text import stem_text


def highlight(text: str, q: str | None) -> Markup:
    """Text, escaped, with every word the query finds wrapped in <mark>."""
    out: list[str] = []
    last = 0
    for start, end in hits(text, q):
        out.append(escape(text[last:start]))
        out.append(Markup("<mark>{}</mark>").format(text[start:end]))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


# The `q` of the page being rendered: render_cell is not given the request in Datasette 0.65.
_QUERY: contextvars.ContextVar[str | None] = contextvars.ContextVar("search_q", default=None)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def remember_query(scope, receive, send):
            if scope.get("type") == "http":
                params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                token = _QUERY.set((params.get("q") or [None])[0])
                try:
                    await app(scope, receive, send)
                finally:
                    _QUERY.reset(token)
            else:
                await app(scope, receive, send)

        return remember_query

    return wrap


@hookimpl
def render_cell(value, column, table, database):
    if column != "snippet" or table is not None or not isinstance(value, str):
        return None
    q = _QUERY.get()
    if database != "monitor" or not q:
        return None
    return highlight(value, q)


# Datasette stops a query at its time limit between SQLite's steps, never inside a Python
# function: stem() works through long text in chunks and interrupts the query itself when the
# limit is reached; search_snippet() looks for its word in the first SNIPPET_SCAN characters.
STEM_CHUNK = 50_000
SNIPPET_SCAN = 200_000


def limited_stem(conn, limit_s: float):
    """stem() for one connection: the stems of a text, or an interrupted query when stemming
    it takes longer than `limit_s` seconds (Datasette: "SQL query took too long")."""

    def stem(value):
        text = value if isinstance(value, str) else ""
        deadline = time.monotonic() + limit_s
        out, start = [], 0
        while start < len(text):
            end = text.find(" ", start + STEM_CHUNK)
            end = len(text) if end < 0 else end
            out.append(stem_text(text[start:end]))
            start = end
            if start < len(text) and time.monotonic() > deadline:
                conn.interrupt()
                return None
        return " ".join(filter(None, out))

    return stem


def bounded_snippet(text, q):
    if isinstance(text, str) and len(text) > SNIPPET_SCAN:
        snippet = search_snippet(text[:SNIPPET_SCAN], q)
        return snippet if snippet.endswith("…") else snippet + " …"
    return search_snippet(text, q)


@hookimpl
def prepare_connection(conn, datasette):
    limit_s = (datasette.setting("sql_time_limit_ms") or 1000) / 1000
    conn.create_function("stem", 1, limited_stem(conn, limit_s), deterministic=True)
    conn.create_function("stem_query", 1, stem_query, deterministic=True)
    conn.create_function("search_snippet", 2, bounded_snippet, deterministic=True)
