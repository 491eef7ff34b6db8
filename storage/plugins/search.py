"""Russian and Kazakh word-form search in SQL (stem(), stem_query(), search_snippet()), and the
search hits highlighted in the snippets of the search pages.

Registered on every Datasette connection, so canned queries can search the stemmed index:

    select a.* from articles_stem_fts s join articles a on a.id = s.rowid
    where articles_stem_fts match stem_query(:q) order by s.rank

stem_query() turns what a person types into a safe FTS5 query over the stems that
``monitor.text.stem_text`` wrote into ``articles_stem_fts``, so "событие" finds "январских
событий", "оқиға" finds "оқиғасынан", "ёлка" finds "елки", "беспорядок" finds "беспорядки",
"Токаев" finds "Токаевым" and "Тоқаевтың", "Жанаозен" finds "Жаңаөзен" and "Алматы" finds
"Алма-Ата" (the word analyser gives every form and spelling of a word one key). It understands a
little syntax:

    word         every form and spelling of the word (its key)
    word*        every word starting with it (after normalisation), and its key
    "two words"  the stems next to each other, in that order
    a OR b       either
    -word        not this word

Anything else (punctuation, quotes left open, FTS5 operators) is treated as text, so no input
raises an error; an empty query matches nothing.

On the HTML pages of the canned queries, the words of a ``snippet`` column that the query found
are wrapped in <mark> (the text itself escaped); JSON and CSV keep the plain snippet.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from urllib.parse import parse_qs

from datasette import hookimpl
from markupsafe import Markup, escape

from monitor.text import fold_phrases, iter_key_spans, norm_word, stem_text, stem_words, words

_PIECE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
MIN_PREFIX = 3
NOTHING = '""'  # an FTS5 query that matches no row


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _word_term(word: str, prefix: bool) -> str:
    stem = stem_words([word])[0]
    if prefix and len(word) >= MIN_PREFIX:
        # Words starting with `word` were indexed by keys that start with it (Токаевский) or by
        # its own key (Токаева: the key of Токаев).
        return f"({_quote(stem)} OR {_quote(word)} *)" if stem != word else f"{_quote(word)} *"
    return _quote(stem)


def _terms(raw: str) -> list[str]:
    """FTS5 terms for one bare piece of input (which may hold several words: Нур-Султан)."""
    prefix = raw.endswith("*")
    found = words(raw)
    if len(found) > 1 and not prefix:
        folded = fold_phrases(stem_words(found))
        if len(folded) != len(found):  # a two-word spelling of a name: Алма-Ата
            return [_quote(key) for key in folded]
    return [_word_term(w, prefix and i == len(found) - 1) for i, w in enumerate(found)]


def stem_query(q: str | None) -> str:
    """An FTS5 query for articles_stem_fts from a person's search words."""
    groups: list[list[str]] = []  # ANDed groups of ORed terms: a OR b c = (a OR b) AND c
    negative: list[str] = []
    join_next = False
    for match in _PIECE.finditer(q or ""):
        minus, phrase, bare = match.groups()
        if bare == "OR":
            join_next = bool(groups)
            continue
        if phrase is not None:
            stems = stem_text(phrase)
            terms = [_quote(stems)] if stems else []
            if minus:
                negative += terms
                continue
        elif bare.startswith("-") and len(bare) > 1:
            terms = _terms(bare[1:])
            if terms:
                negative.append(" AND ".join(terms))
            continue
        else:
            terms = _terms(bare)
        for term in terms:
            if join_next:
                groups[-1].append(term)
                join_next = False
            else:
                groups.append([term])
    if not groups:
        return NOTHING
    query = " AND ".join(
        group[0] if len(group) == 1 else "(" + " OR ".join(group) + ")" for group in groups
    )
    if negative:
        query = f"({query})" + "".join(f" NOT ({term})" for term in negative)
    return query


def _wanted(q: str | None) -> tuple[set[str], tuple[str, ...]]:
    """The keys and the prefixes a query looks for (not those it leaves out with -word)."""
    wanted: set[str] = set()
    prefixes: list[str] = []
    for match in _PIECE.finditer(q or ""):
        minus, phrase, bare = match.groups()
        if minus or (bare and (bare == "OR" or (bare.startswith("-") and len(bare) > 1))):
            continue
        wanted.update(stem_text(phrase if phrase is not None else bare).split())
        if bare and bare.endswith("*"):
            found = words(bare)
            if found and len(found[-1]) >= MIN_PREFIX:
                prefixes.append(found[-1])
    return wanted, tuple(prefixes)


def _hits(text: str, q: str | None) -> Iterator[tuple[int, int]]:
    """Character spans of the words of text that the query finds, in order."""
    wanted, prefixes = _wanted(q)
    if not wanted and not prefixes:
        return
    for start, end, key in iter_key_spans(text):
        if key in wanted or (prefixes and norm_word(text[start:end]).startswith(prefixes)):
            yield start, end


def search_snippet(text: str | None, q: str | None, width: int = 240) -> str | None:
    """About `width` characters of plain text around the first word that the query finds."""
    if not text:
        return text
    hit = next(_hits(text, q), None)
    if hit is None:
        start, end = 0, min(len(text), width)
    else:
        start = max(0, hit[0] - width // 3)
        end = min(len(text), max(start + width, hit[1]))
    # Cut at spaces so no word is broken, and mark what was left out.
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < hit[0] else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start and (hit is None or space >= hit[1]) else end
    snippet = " ".join(text[start:end].split())
    return ("… " if start > 0 else "") + snippet + (" …" if end < len(text) else "")


def highlight(text: str, q: str | None) -> Markup:
    """Text, escaped, with every word the query finds wrapped in <mark>."""
    out: list[str] = []
    last = 0
    for start, end in _hits(text, q):
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


@hookimpl
def prepare_connection(conn):
    conn.create_function("stem", 1, lambda value: stem_text(value or ""), deterministic=True)
    conn.create_function("stem_query", 1, stem_query, deterministic=True)
    conn.create_function("search_snippet", 2, search_snippet, deterministic=True)
