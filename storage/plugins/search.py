"""Russian and Kazakh word-form search in SQL: stem(), stem_query() and search_snippet().

Registered on every Datasette connection, so canned queries can search the stemmed index:

    select a.* from articles_stem_fts s join articles a on a.id = s.rowid
    where articles_stem_fts match stem_query(:q) order by s.rank

stem_query() turns what a person types into a safe FTS5 query over the stems that
``monitor.text.stem_text`` wrote into ``articles_stem_fts``, so "событие" finds "январских
событий", "оқиға" finds "оқиғасынан" and "ёлка" finds "елки". It understands a little syntax:

    word         every form of the word (its stem; plus the word itself as a prefix, which helps
                 with names the stemmer cuts short: Токаев finds Токаева)
    word*        every word starting with it (after normalisation, no stemming)
    "two words"  the stems next to each other, in that order
    a OR b       either
    -word        not this word

Anything else (punctuation, quotes left open, FTS5 operators) is treated as text, so no input
raises an error; an empty query matches nothing.
"""

from __future__ import annotations

import re
import time

from datasette import hookimpl

from monitor.text import norm_word, stem_text, stem_words, token_spans, tokens, words

_PIECE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
MIN_PREFIX = 3
NOTHING = '""'  # an FTS5 query that matches no row


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _word_term(word: str, prefix: bool) -> str:
    stem = stem_words([word])[0]
    if prefix and len(word) >= MIN_PREFIX:
        # Words starting with `word` were indexed by stems that start with it (Токаева: токаев)
        # or that it starts with (Токаев: тока).
        return f"({_quote(stem)} OR {_quote(word)} *)" if stem != word else f"{_quote(word)} *"
    if stem != word and len(word) > len(stem) + 1 and len(word) >= MIN_PREFIX + 2:
        return f"({_quote(stem)} OR {_quote(word)} *)"
    return _quote(stem)


def _terms(raw: str) -> list[str]:
    """FTS5 terms for one bare piece of input (which may hold several words: Нур-Султан)."""
    prefix = raw.endswith("*")
    found = words(raw)
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


def search_snippet(text: str | None, q: str | None, width: int = 240) -> str | None:
    """About `width` characters of plain text around the first word that the query finds."""
    if not text:
        return text
    wanted_stems = set(stem_text(q or "").split()) - {"or"}
    prefixes = tuple(
        norm_word(piece.rstrip("*"))
        for piece in (q or "").split()
        if piece.endswith("*") and len(piece.rstrip("*")) >= MIN_PREFIX
    )
    spans = token_spans(text)
    hit = None
    for (start, end), token in zip(spans, tokens(text), strict=True):
        norm = norm_word(token)
        if stem_words([norm])[0] in wanted_stems or (prefixes and norm.startswith(prefixes)):
            hit = (start, end)
            break
    if hit is None:
        start, end = 0, min(len(text), width)
    else:
        start = max(0, hit[0] - width // 3)
        end = min(len(text), start + width)
    # Cut at spaces so no word is broken, and mark what was left out.
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < hit[0] else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    snippet = " ".join(text[start:end].split())
    return ("… " if start > 0 else "") + snippet + (" …" if end < len(text) else "")


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
