"""Scoring an article against compiled topics, with evidence for every rule that fired.

Matching tokenises and stems each field once (stems are cached), looks each token up in a
dictionary and then works on token positions, so its cost is linear in the article length.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

from monitor import language
from monitor import text as textmod
from monitor.topics.model import (
    FIELDS,
    MAX_TERM_WORDS,
    SNIPPET_CHARS,
    Group,
    Passing,
    Rule,
    Term,
    Topic,
)

# Sentence breaks: a line break, or . ! ? … followed by space and a capital, digit or quote.
_SENTENCE_BREAK = re.compile(r"\n\s*|[.!?…]\s+(?=[«\"„(\[0-9A-ZА-ЯЁӘҒҚҢӨҰҮҺІ—–-])")


@dataclass
class Match:
    """A topic an article matched, its score and the evidence for it."""

    topic: str
    score: float
    evidence: list[dict[str, Any]]
    threshold: float = 0.0

    @property
    def matched(self) -> bool:
        return self.score >= self.threshold


class Hit(NamedTuple):
    """A term found at article token positions start..end (inclusive), inside one sentence."""

    start: int
    end: int
    sentence: int
    term: Term


@dataclass
class _FieldText:
    """The original text of one field and where its tokens sit in the article's token list."""

    name: str
    text: str
    first: int  # article position of the field's first token
    spans: list[tuple[int, int]] = field(default_factory=list)  # of the field's tokens

    def span(self, position: int) -> tuple[int, int]:
        """Character offsets of the token at an article position."""
        return self.spans[position - self.first]


@dataclass
class _Article:
    """An article as one token list (title, lead, text in order) with sentence numbers.

    Sentences never span two fields, so a sentence number also tells the field.
    """

    raws: list[str]
    norms: list[str]
    stems: list[str]
    sentences: list[int]
    sentence_field: list[str]
    fields: dict[str, _FieldText]
    lang: str
    day: date | None = None  # the publication day, when known

    def field_of(self, hit: Hit) -> str:
        return self.sentence_field[hit.sentence]


@lru_cache(maxsize=200_000)
def _analyse_token(raw: str) -> tuple[str, str]:
    """Normalised form and stem of a token."""
    norm = textmod.norm_word(raw)
    return norm, textmod.stem_words((norm,))[0]


def _analyse(title: str, lead: str, text: str, lang: str | None, day: date | None) -> _Article:
    """Tokenise, normalise and stem the fields of an article once."""
    raws: list[str] = []
    sentences: list[int] = []
    sentence_field: list[str] = []
    fields: dict[str, _FieldText] = {}
    for name, value in zip(FIELDS, (title, lead, text), strict=True):
        # Sentence k of the field holds the tokens after its k-th break (breaks hold no token).
        spans = textmod.token_spans(value)
        breaks = [m.end() for m in _SENTENCE_BREAK.finditer(value)]
        base = len(sentence_field)
        fields[name] = _FieldText(name, value, len(raws), spans)
        raws.extend(value[a:b] for a, b in spans)
        if breaks:
            sentences.extend(base + bisect_right(breaks, a) for a, _ in spans)
        else:
            sentences.extend([base] * len(spans))
        sentence_field.extend([name] * (len(breaks) + 1))
    analysed = list(map(_analyse_token, raws))
    if lang is None:
        lang = language.detect(f"{title}\n{lead}\n{text}")
    return _Article(
        raws=raws,
        norms=list(map(itemgetter(0), analysed)),
        stems=list(map(itemgetter(1), analysed)),
        sentences=sentences,
        sentence_field=sentence_field,
        fields=fields,
        lang=lang or "",
        day=day,
    )


def publication_day(published: str | date | None) -> date | None:
    """The day an article was published, from its stored ISO date-time (None when unknown)."""
    if published is None or published == "":
        return None
    if isinstance(published, datetime):
        return published.date()
    if isinstance(published, date):
        return published
    try:
        return date.fromisoformat(str(published).strip()[:10])
    except ValueError:
        return None


def match_article(
    topics: Iterable[Topic],
    *,
    title: str = "",
    lead: str = "",
    text: str = "",
    published: str | date | None = None,
    lang: str | None = None,
) -> list[Match]:
    """Return the topics this article matches, each with its score and evidence.

    `published` (an ISO date or date-time) lets rules with `when` use the article's date; an
    undated article is judged on its text alone. `lang` is the language the article was stored
    with (monitor.language); when it is not given, it is detected the same way.
    """
    article = _analyse(title or "", lead or "", text or "", lang, publication_day(published))
    matches = []
    for topic in topics:
        found = _match_topic(topic, article, explain=False)
        if found is not None:
            matches.append(found)
    return matches


def score_article(
    topics: Iterable[Topic],
    *,
    title: str = "",
    lead: str = "",
    text: str = "",
    published: str | date | None = None,
    lang: str | None = None,
) -> list[Match]:
    """Every topic's score for this article with the evidence of every rule that fired, matched
    or not (`Match.matched` tells); what `monitor match` shows to people who write topics."""
    article = _analyse(title or "", lead or "", text or "", lang, publication_day(published))
    return [_match_topic(topic, article, explain=True) for topic in topics]


def _find_hits(topic: Topic, article: _Article) -> dict[str, list[Hit]]:
    """Hits of every concept, in text order; a phrase never spans two sentences."""
    hits: dict[str, list[Hit]] = {}
    raws, norms, stems, sentences = article.raws, article.norms, article.stems, article.sentences
    size = len(stems)
    cached = map(topic._cache.get, norms)
    for i, found_terms in enumerate(cached):
        if found_terms is None:
            found_terms = topic.candidates(norms[i], stems[i])
        for term in found_terms:
            end = i + len(term.parts) - 1
            if term.checked and (
                end >= size
                or sentences[end] != sentences[i]
                or not all(
                    part.matches(raws[j], norms[j], stems[j])
                    for j, part in enumerate(term.parts, i)
                )
            ):
                continue
            _add_hit(hits.setdefault(term.concept, []), Hit(i, end, sentences[i], term))
    return hits


def _add_hit(found: list[Hit], hit: Hit) -> None:
    """Append a hit; of two terms of one concept at the same word keep the longer."""
    if found and found[-1].start == hit.start:
        if found[-1].end >= hit.end:
            return
        found.pop()
    found.append(hit)


Firing = tuple[float, tuple[Hit, ...]]  # field factor and the hits behind one firing of a rule


def _match_topic(topic: Topic, article: _Article, explain: bool) -> Match | None:
    """The topic's match, or None when the score stays below the threshold (unless `explain`)."""
    every_hit = _find_hits(topic, article)
    if not every_hit:
        return Match(topic.slug, 0.0, [], topic.threshold) if explain else None
    fired = _fire(topic, every_hit, article, negative=True)
    hits = dict(every_hit)
    for rule, firings in fired:
        if rule.discard:
            _discard(hits, firings)
    positive = _fire(topic, hits, article, negative=False)
    fired += positive
    score = _score(fired, article, topic.sentence_cap)
    passing = None
    if topic.passing is not None and score >= topic.threshold:
        passing = _passing_mention(topic.passing, positive, hits, article)
    if (score < topic.threshold or passing is not None) and not explain:
        return None
    evidence = [
        _evidence(rule, factor, found, article)
        for rule, firings in fired
        for factor, found in firings
    ]
    if passing is not None:
        evidence.append(_passing_evidence(topic.passing, passing, score, article))
        score = 0.0
    return Match(topic.slug, round(score, 2), evidence, topic.threshold)


def _passing_mention(
    passing: Passing,
    positive: list[tuple[Rule, list[Firing]]],
    hits: Mapping[str, list[Hit]],
    article: _Article,
) -> tuple[tuple[Hit, ...], int] | None:
    """The anchor hits of the one sentence an article mentions the topic in, and how many
    aspects the rest of it touches, when it is a passing mention (see Passing); else None."""
    anchors = [h for concept in passing.anchors for h in hits.get(concept, ())]
    sentences = {h.sentence for h in anchors}
    if len(sentences) != 1:
        return None
    (sentence,) = sentences
    if article.sentence_field[sentence] != "text":
        return None
    # Distances count sentences that hold words (a blank line is no sentence).
    rank = {s: i for i, s in enumerate(sorted(set(article.sentences)))}
    # A mention is in passing only in a story that is mostly about something else: the body
    # sentences beyond `reach` at least as many as the mention and its neighbours.
    body = [s for s in rank if article.sentence_field[s] == "text"]
    near = sum(abs(rank[s] - rank[sentence]) <= passing.reach for s in body)
    if len(body) - near < near:
        return None
    for rule, firings in positive:
        if rule.kind not in ("any", "near"):
            continue  # all/distinct say that concepts occur, not where
        for _, found in firings:
            if any(article.field_of(hit) != "text" for hit in found):
                return None  # the title or lead carries evidence
            if any(hit.sentence == sentence for hit in found):
                continue  # it leans on the mention, however far its other hit is
            if any(abs(rank[hit.sentence] - rank[sentence]) > passing.reach for hit in found):
                return None  # evidence of its own elsewhere in the story
    aspects = 0
    for concept in passing.aspects:
        elsewhere = [h for h in hits.get(concept, ()) if h.sentence != sentence]
        if elsewhere:
            aspects += 1
        for hit in elsewhere:
            if (
                article.field_of(hit) != "text"
                or abs(rank[hit.sentence] - rank[sentence]) > passing.reach
            ):
                return None  # the story comes back to what happened
    if aspects >= passing.min_aspects:
        return None
    return tuple(sorted(anchors, key=_start)), aspects


def _passing_evidence(
    passing: Passing, found: tuple[tuple[Hit, ...], int], score: float, article: _Article
) -> dict[str, Any]:
    """The evidence line that says why the article is a passing mention."""
    anchors, aspects = found
    return {
        "rule": (
            "passing mention: nothing fired in the title or lead, the topic is named in this "
            f"sentence only, every rule fired on it or within {passing.reach} sentence(s) of it, "
            f"and the rest touches {aspects} aspect(s) nearby (a story about it: "
            f"{passing.min_aspects}, or one further away)"
        ),
        "weight": -round(score, 2),
        "term": " ~ ".join(dict.fromkeys(h.term.text for h in anchors)),
        "field": "text",
        "snippet": _snippet(article.fields["text"], list(anchors)),
    }


def _score(fired: list[tuple[Rule, list[Firing]]], article: _Article, cap: float | None) -> float:
    """Score of the fired rules.

    `all` and `distinct` rules count once for the article. A firing of `any` or `near` belongs to
    the sentence of its (first) hit. A negative firing in the title or lead speaks for the whole
    article; one in the body text cancels positive evidence of its own sentence only (never below
    zero), unless the rule has `scope: article`. The positive evidence of one body-text sentence
    counts at most `cap`, so a passing mention in an unrelated story does not match by itself.
    """
    total = 0.0
    positive: dict[int, float] = {}
    negative: dict[int, float] = {}
    for rule, firings in fired:
        for factor, found in firings:
            value = rule.weight * factor
            sentence = found[0].sentence
            if rule.kind in ("all", "distinct"):
                total += value
            elif value < 0 and (rule.whole_article or article.sentence_field[sentence] != "text"):
                total += value
            else:
                bucket = positive if value > 0 else negative
                bucket[sentence] = bucket.get(sentence, 0.0) + value
    for sentence in positive.keys() | negative.keys():
        value = positive.get(sentence, 0.0)
        if cap is not None and article.sentence_field[sentence] == "text":
            value = min(value, cap)
        total += max(0.0, value + negative.get(sentence, 0.0))
    return max(total, 0.0)


def _fire(
    topic: Topic, hits: Mapping[str, list[Hit]], article: _Article, negative: bool
) -> list[tuple[Rule, list[Firing]]]:
    """Fire the discard and negative rules (negative=True) or the positive ones."""
    weights, period = topic.field_weights, topic.period
    present = {concept for concept, found in hits.items() if found}
    fired = []
    for rule in topic.negative_rules if negative else topic.positive_rules:
        if not _applies(rule, present, article, period):
            continue
        firings = _firings(rule, hits, present, article, weights)
        if firings:
            fired.append((rule, firings))
    return fired


def _discard(hits: dict[str, list[Hit]], firings: list[Firing]) -> None:
    """Drop the first-side hits of a discard rule's firings from `hits`."""
    dropped = {id(found[0]) for _, found in firings}
    for concept, found in hits.items():
        hits[concept] = [h for h in found if id(h) not in dropped]


def _applies(
    rule: Rule, present: set[str], article: _Article, period: tuple[date, date] | None
) -> bool:
    """Whether the rule can fire: its language, its date, its with/unless and own concepts."""
    if rule.lang is not None and rule.lang != article.lang:
        return False
    if rule.when is not None and not _in_period(rule.when, article.day, period):
        return False
    if rule.kind == "any":
        if present.isdisjoint(rule.concepts):
            return False
    elif rule.kind == "near":
        for group in rule.groups:
            if present.isdisjoint(group):
                return False
    for group in rule.with_:
        if present.isdisjoint(group):
            return False
    return all(present.isdisjoint(group) for group in rule.unless)


def _in_period(when: str, day: date | None, period: tuple[date, date] | None) -> bool:
    """Whether the article's day satisfies a rule's `when` (see WHEN)."""
    if period is None:
        return False
    if day is None:
        return when == "not_before"
    if when == "during":
        return period[0] <= day <= period[1]
    return day >= period[0]


def _group_hits(hits: Mapping[str, list[Hit]], group: Group) -> list[Hit]:
    found: list[Hit] = []
    for concept in group:
        found.extend(hits.get(concept, ()))
    return found


def _firings(
    rule: Rule,
    hits: Mapping[str, list[Hit]],
    present: set[str],
    article: _Article,
    weights: Mapping[str, float],
) -> list[Firing]:
    """How the rule fires: at most `times` firings, best fields first; empty if it does not."""
    if rule.kind in ("all", "distinct"):
        satisfied = [group for group in rule.groups if not present.isdisjoint(group)]
        needed = len(rule.groups) if rule.kind == "all" else rule.min
        if len(satisfied) < needed:
            return []
        return [(1.0, tuple(min(_group_hits(hits, g), key=lambda h: h.start) for g in satisfied))]
    if rule.kind == "any":
        every = sorted(_group_hits(hits, tuple(c for g in rule.groups for c in g)), key=_start)
        found = [(weights[article.field_of(h)], (h,)) for h in every if _inside(rule, article, h)]
    else:
        found = [
            (min(weights[article.field_of(a)], weights[article.field_of(b)]), (a, b))
            for a, b in _pairs(rule, hits)
            if _inside(rule, article, a)
        ]
    found.sort(key=lambda firing: -firing[0])  # stable: text order among equal fields
    return found if rule.discard else _one_per_sentence(found, rule.times)


def _one_per_sentence(found: list[Firing], times: int) -> list[Firing]:
    """The first `times` firings that each fall in a different sentence."""
    chosen: list[Firing] = []
    seen: set[int] = set()
    for firing in found:
        sentence = firing[1][0].sentence
        if sentence not in seen:
            seen.add(sentence)
            chosen.append(firing)
            if len(chosen) == times:
                break
    return chosen


def _inside(rule: Rule, article: _Article, hit: Hit) -> bool:
    return len(rule.only_in) == len(FIELDS) or article.field_of(hit) in rule.only_in


def _start(hit: Hit) -> int:
    return hit.start


def _pairs(rule: Rule, hits: Mapping[str, list[Hit]]) -> list[tuple[Hit, Hit]]:
    """For each hit of the first side, the nearest hit of the second side within the window."""
    left, right = (_group_hits(hits, group) for group in rule.groups)
    if not left or not right:
        return []
    right.sort(key=_start)
    starts = [h.start for h in right]
    pairs = []
    for a in sorted(left, key=_start):
        best: tuple[int, Hit] | None = None
        for k in range(bisect_left(starts, a.start - rule.window - MAX_TERM_WORDS), len(right)):
            b = right[k]
            if b.start > a.end + rule.window + 1:
                break
            gap = b.start - a.end - 1 if b.start > a.end else a.start - b.end - 1
            if gap < 0 or gap > rule.window or (rule.same_sentence and a.sentence != b.sentence):
                continue
            if best is None or gap < best[0]:
                best = (gap, b)
        if best is not None:
            pairs.append((a, best[1]))
    return pairs


def _evidence(
    rule: Rule, factor: float, hits: tuple[Hit, ...], article: _Article
) -> dict[str, Any]:
    field_name = article.field_of(hits[0])
    same_field = [h for h in hits if article.field_of(h) == field_name]
    return {
        "rule": rule.name,
        "weight": round(rule.weight * factor, 2),
        "term": " ~ ".join(dict.fromkeys(h.term.text for h in hits)),
        "field": field_name,
        "snippet": _snippet(article.fields[field_name], same_field),
    }


def _snippet(fld: _FieldText, hits: list[Hit]) -> str:
    """About SNIPPET_CHARS characters of the original text around the hits, cut at spaces."""
    start = min(fld.span(h.start)[0] for h in hits)
    end = max(fld.span(h.end)[1] for h in hits)
    if end - start > SNIPPET_CHARS:
        start, end = fld.span(hits[0].start)[0], fld.span(hits[0].end)[1]
    pad = max(0, SNIPPET_CHARS - (end - start)) // 2
    left, right = max(0, start - pad), min(len(fld.text), end + pad)
    if left > 0:
        cut = fld.text.find(" ", left, start)
        left = cut + 1 if cut != -1 else left
    if right < len(fld.text):
        cut = fld.text.rfind(" ", end, right)
        right = cut if cut != -1 else right
    body = " ".join(fld.text[left:right].split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(fld.text) else "")
