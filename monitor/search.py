"""Search over the stemmed index: what a person types, as an FTS5 query, and the words it found.

The same functions serve Datasette's search pages (storage/plugins/search.py registers them as SQL
functions) and `monitor search`, so both find the same articles. stem_query() turns a query into
a safe FTS5 query over the keys that ``monitor.text.stem_text`` wrote into ``articles_stem_fts``
(every form and spelling of a word has one key). It understands a little syntax:

    word         every form and spelling of the word (its key)
    word*        every word starting with it (after normalisation), and its key
    "two words"  the stems next to each other, in that order
    a OR b       either
    -word        not this word

Anything else (punctuation, quotes left open, FTS5 operators) is treated as text, so no input
raises an error; an empty query matches nothing.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

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


def hits(text: str, q: str | None) -> Iterator[tuple[int, int]]:
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
    hit = next(hits(text, q), None)
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


SEARCH_SQL = """
select a.id, a.published, a.outlet, a.lang, a.title, a.text, a.url,
  (select group_concat(m.topic, ', ') from matches m where m.article_id = a.id) as topics
from articles_stem_fts s join articles a on a.id = s.rowid
where articles_stem_fts match :query
  and (:topic is null or exists (
    select 1 from matches m where m.article_id = a.id and m.topic = :topic))
order by s.rank
limit :limit
"""


def search(
    conn: sqlite3.Connection | Any, q: str, limit: int = 20, topic: str | None = None
) -> list[dict[str, Any]]:
    """The articles the query finds, best first, each with a snippet around the first hit."""
    query = stem_query(q)
    if query == NOTHING:
        return []
    found = []
    for row in conn.execute(SEARCH_SQL, {"query": query, "topic": topic, "limit": limit}):
        article = dict(
            zip(
                ("id", "published", "outlet", "lang", "title", "text", "url", "topics"),
                row,
                strict=True,
            )
        )
        article["snippet"] = search_snippet(article.pop("text"), q)
        found.append(article)
    return found
