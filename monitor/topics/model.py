"""The compiled form of a topic: its terms (as parts to compare with tokens), rules and limits.

monitor.topics.loader builds these from the YAML file (with monitor.topics.compiler);
monitor.topics.matcher scores articles with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from monitor.errors import MonitorError

FIELDS = ("title", "lead", "text")
DEFAULT_FIELD_WEIGHTS = {"title": 2.0, "lead": 1.5, "text": 1.0}
RULE_KINDS = ("any", "near", "all", "distinct")
LANGS = ("ru", "kk")
# A rule's `when`: dated within the period; dated on or after its start; not dated before it
# (an undated article counts).
WHEN = ("during", "since", "not_before")
MAX_WINDOW = 100
MAX_TIMES = 10
MAX_TERM_WORDS = 8
MIN_PREFIX = 3
MAX_REGEX_TOKEN = 64  # longer tokens are never tried against regex terms
SNIPPET_CHARS = 160
KAZAKH_SHARE = 0.15  # share of Cyrillic words with a Kazakh-only letter that makes an article kk
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# A repeated group that itself repeats or alternates ((a+)+, (a|aa)*) can backtrack for ages.
NESTED_REPEAT = re.compile(r"\([^()]*[*+}|][^()]*\)[*+{]")


class TopicError(MonitorError):
    """A topic file that cannot be used; the message names the file, the topic and the key."""


@dataclass(frozen=True)
class Part:
    """One word of a term: a stem to equal, a prefix, an acronym, or a regular expression."""

    kind: str  # "stem" | "prefix" | "acronym" | "regex"
    value: str
    pattern: re.Pattern[str] | None = None
    also: str | None = None  # a second accepted stem (Kazakh words without Kazakh-only letters)

    def matches(self, raw: str, norm: str, stem: str) -> bool:
        if self.kind == "stem":
            return stem == self.value or stem == self.also
        if self.kind == "prefix":
            return norm.startswith(self.value)
        if self.kind == "acronym":
            return stem == self.value and raw.isupper()
        return len(norm) <= MAX_REGEX_TOKEN and self.pattern.fullmatch(norm) is not None


@dataclass(frozen=True)
class Term:
    """A word or phrase as written in the topic file, compiled to parts."""

    text: str
    concept: str
    parts: tuple[Part, ...]
    checked: bool = False  # a candidate must be checked word by word (phrase or acronym)


Group = tuple[str, ...]  # concepts, any of which satisfies one side of a rule


@dataclass(frozen=True)
class Rule:
    """One compiled rule; ``groups`` holds its concept groups (two for near)."""

    name: str
    kind: str
    groups: tuple[Group, ...]
    weight: float
    times: int = 1
    window: int = 0
    same_sentence: bool = False
    min: int = 0
    with_: tuple[Group, ...] = ()
    unless: tuple[Group, ...] = ()
    lang: str | None = None
    discard: bool = False
    whole_article: bool = False  # a negative firing in the body lowers the article's score
    only_in: tuple[str, ...] = FIELDS  # fields where the (first-side) hits may be
    when: str | None = None  # WHEN: the article's date against the topic's period

    @cached_property
    def concepts(self) -> frozenset[str]:
        """Every concept of the rule's own groups."""
        return frozenset(c for group in self.groups for c in group)


@dataclass(frozen=True)
class Passing:
    """The topic's `passing` option: when an article only mentions the topic in passing.

    An article that reaches the threshold is a passing mention, and does not match, when no
    rule fired in its title or lead, its body has at least as many sentences beyond `reach` of
    the mention as within it, the `anchors` (the concepts that name the events or their
    time) occur in one body sentence only, every any/near firing either has a hit in that
    sentence or lies within `reach` sentences of it, and the `aspects` (what happened) occur
    outside that sentence only within `reach` sentences of it and as fewer than `min_aspects`
    distinct concepts.
    """

    anchors: frozenset[str]
    aspects: frozenset[str]
    reach: int = 1
    min_aspects: int = 2


@dataclass(frozen=True)
class Topic:
    """A topic with its compiled concepts and rules."""

    slug: str
    name: str
    description: str
    seeds: tuple[str, ...]
    threshold: float
    sentence_cap: float | None
    field_weights: Mapping[str, float]
    concepts: Mapping[str, tuple[Term, ...]]
    rules: tuple[Rule, ...]
    period: tuple[date, date] | None  # when the topic's events happened (first and last day)
    passing: Passing | None  # when a mention in passing does not match (None: never)
    _exact: Mapping[str, tuple[Term, ...]] = field(repr=False, compare=False)
    _prefixes: Mapping[str, tuple[Term, ...]] = field(repr=False, compare=False)  # by 3 letters
    _regexes: tuple[Term, ...] = field(repr=False, compare=False)
    _cache: dict[str, tuple[Term, ...]] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def negative_rules(self) -> tuple[Rule, ...]:
        """The discard and negative-weight rules, which fire first."""
        return tuple(r for r in self.rules if r.discard or r.weight < 0)

    @cached_property
    def positive_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if not (r.discard or r.weight < 0))

    def candidates(self, norm: str, stem: str) -> tuple[Term, ...]:
        """Terms whose first word may match this token (the whole term is checked later)."""
        found = self._cache.get(norm)
        if found is None:
            prefixed = self._prefixes.get(norm[:MIN_PREFIX], ())
            found = (
                self._exact.get(stem, ())
                + tuple(t for t in prefixed if norm.startswith(t.parts[0].value))
                + tuple(t for t in self._regexes if t.parts[0].matches(norm, norm, stem))
            )
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[norm] = found
        return found
