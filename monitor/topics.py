"""Topics people watch, loaded from seeds/topics.yml, and the matcher that explains its decisions.

A topic names *concepts* (groups of Russian and Kazakh terms, stemmed at load time with
``monitor.text.stem``) and *rules* that combine them: a term of a concept occurs, two concepts
occur within N words, all of some concepts occur, or at least K distinct concepts occur. Each
firing of a rule adds its weight times the weight of the field it fired in (title counts more);
an article matches a topic when the sum reaches the topic's threshold. Every firing leaves
evidence: the rule, the terms, the field and a snippet of the original text.

Matching tokenises and stems each field once (stems are cached), looks each token up in a
dictionary and then works on token positions, so its cost is linear in the article length.
The file format is documented at the top of seeds/topics.yml.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from monitor import text as textmod

__all__ = ["FIELDS", "Match", "Rule", "Term", "Topic", "TopicError", "load_topics", "match_article"]

FIELDS = ("title", "lead", "text")
DEFAULT_FIELD_WEIGHTS = {"title": 2.0, "lead": 1.5, "text": 1.0}
RULE_KINDS = ("any", "near", "all", "distinct")
LANGS = ("ru", "kk")
MAX_WINDOW = 100
MAX_TIMES = 10
MAX_TERM_WORDS = 8
MIN_PREFIX = 3
MAX_REGEX_TOKEN = 64  # longer tokens are never tried against regex terms
SNIPPET_CHARS = 160
KAZAKH_SHARE = 0.15  # share of Cyrillic words with a Kazakh-only letter that makes an article kk

# `notify` (destination names) is read by monitor/notify.py, not here.
_TOPIC_KEYS = {
    "slug", "name", "description", "seeds", "threshold", "sentence_cap", "fields", "concepts",
    "rules", "notify",
}  # fmt: skip
_REQUIRED_KEYS = ("slug", "name", "description", "threshold", "concepts", "rules")
_RULE_OPTIONS = {
    "name", "weight", "discard", "times", "window", "same_sentence", "min", "with", "unless",
    "lang", "scope", "in", "note",
}  # fmt: skip
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# A repeated group that itself repeats or alternates ((a+)+, (a|aa)*) can backtrack for ages.
_NESTED_REPEAT = re.compile(r"\([^()]*[*+}|][^()]*\)[*+{]")
# Sentence breaks: a line break, or . ! ? … followed by space and a capital, digit or quote.
_SENTENCE_BREAK = re.compile(r"\n\s*|[.!?…]\s+(?=[«\"„(\[0-9A-ZА-ЯЁӘҒҚҢӨҰҮҺІ—–-])")


class TopicError(ValueError):
    """A topic file that cannot be used; the message names the file, the topic and the key."""


# --- compiled form ------------------------------------------------------------------------------


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
    _exact: Mapping[str, tuple[Term, ...]] = field(repr=False, compare=False)
    _prefixes: Mapping[str, tuple[Term, ...]] = field(repr=False, compare=False)  # by 3 letters
    _regexes: tuple[Term, ...] = field(repr=False, compare=False)
    _cache: dict[str, tuple[Term, ...]] = field(default_factory=dict, repr=False, compare=False)

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


# --- loading ------------------------------------------------------------------------------------


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser if built
    """Safe YAML loader that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_topics(path: str | Path) -> list[Topic]:
    """Load, validate and compile the topics in a YAML file; raise TopicError on any problem."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopicError(f"{path}: cannot read topic file: {exc}") from exc
    data = _parse_yaml(path, source)
    if not isinstance(data, dict) or set(data) != {"topics"}:
        raise TopicError(f"{path}: expected one top-level key 'topics' holding a list of topics")
    if not isinstance(data["topics"], list) or not data["topics"]:
        raise TopicError(f"{path}: key 'topics' must be a non-empty list")
    topics: list[Topic] = []
    for index, raw in enumerate(data["topics"], start=1):
        topic = _compile_topic(_Context(path, raw, index), raw)
        if any(t.slug == topic.slug for t in topics):
            raise TopicError(f"{path}: topic '{topic.slug}': key 'slug': duplicate slug")
        topics.append(topic)
    return topics


def _parse_yaml(path: Path, source: str) -> Any:
    try:
        return yaml.load(source, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        if mark is None:
            raise TopicError(f"{path}: invalid YAML: {problem}") from exc
        # An unclosed bracket or quote is noticed later; its context mark says where it began.
        start = getattr(exc, "context_mark", None) or mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        if start.line != mark.line:
            where += f" (in what starts at line {start.line + 1})"
        topic, key = _locate(source, start.line)
        raise TopicError(
            f"{path}: topic '{topic}': key '{key}': invalid YAML at {where}: {problem}"
        ) from exc


def _locate(source: str, line: int) -> tuple[str, str]:
    """Best guess of the topic slug and key around a line of a file that does not parse."""
    slug, key = "?", "?"
    for text in reversed(source.splitlines()[: line + 1]):
        found = re.match(r"^\s*(?:-\s+)?([\w.-]+)\s*:", text)
        if found and key == "?":
            key = found.group(1)
        slug_match = re.match(r"^\s*(?:-\s+)?slug\s*:\s*['\"]?([\w-]+)", text)
        if slug_match:
            slug = slug_match.group(1)
            break
    return slug, key


class _Context:
    """Where a value sits (file, topic), to build one-line TopicError messages."""

    def __init__(self, path: Path, raw: Any, index: int):
        self.path = path
        slug = raw.get("slug") if isinstance(raw, dict) else None
        self.slug = slug if isinstance(slug, str) and slug else f"#{index}"

    def error(self, key: str, problem: str) -> TopicError:
        return TopicError(f"{self.path}: topic '{self.slug}': key '{key}': {problem}")


def _compile_topic(ctx: _Context, raw: Any) -> Topic:
    if not isinstance(raw, dict):
        raise TopicError(f"{ctx.path}: topic '{ctx.slug}': expected a mapping of keys")
    for key in raw:
        if key not in _TOPIC_KEYS:
            raise TopicError(f"{ctx.path}: topic '{ctx.slug}': unknown key '{key}'")
    for key in _REQUIRED_KEYS:
        if raw.get(key) in (None, "", [], {}):
            raise ctx.error(key, "missing or empty (required)")
    slug = _text(ctx, raw, "slug")
    if not _SLUG.match(slug):
        raise ctx.error("slug", "use lower-case letters, digits, '-' and '_'")
    concepts = _compile_concepts(ctx, raw["concepts"])
    if not isinstance(raw["rules"], list):
        raise ctx.error("rules", "must be a list of rules")
    rules = tuple(
        _compile_rule(ctx, f"rules[{i}]", rule, concepts) for i, rule in enumerate(raw["rules"], 1)
    )
    if not any(rule.weight > 0 for rule in rules if not rule.discard):
        raise ctx.error("rules", "no rule has a positive weight, so nothing can match")
    return Topic(
        slug=slug,
        name=_text(ctx, raw, "name"),
        description=" ".join(_text(ctx, raw, "description").split()),
        seeds=_seeds(ctx, raw.get("seeds", [])),
        threshold=_positive_number(ctx, "threshold", raw["threshold"]),
        sentence_cap=_optional_number(ctx, "sentence_cap", raw.get("sentence_cap")),
        field_weights=_field_weights(ctx, raw.get("fields", {})),
        concepts=concepts,
        rules=rules,
        **_index(concepts),
    )


def _text(ctx: _Context, raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(key, "must be non-empty text")
    return value.strip()


def _seeds(ctx: _Context, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ctx.error("seeds", "must be a list of file names")
    return tuple(v.strip() for v in value)


def _positive_number(ctx: _Context, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ctx.error(key, f"must be a positive number, got {value!r}")
    return float(value)


def _optional_number(ctx: _Context, key: str, value: Any) -> float | None:
    return None if value is None else _positive_number(ctx, key, value)


def _field_weights(ctx: _Context, value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ctx.error("fields", "must map title/lead/text to weights")
    weights = dict(DEFAULT_FIELD_WEIGHTS)
    for name, weight in value.items():
        if name not in FIELDS:
            raise ctx.error(f"fields.{name}", f"unknown field (use {', '.join(FIELDS)})")
        weights[name] = _positive_number(ctx, f"fields.{name}", weight)
    return weights


def _compile_concepts(ctx: _Context, raw: Any) -> dict[str, tuple[Term, ...]]:
    if not isinstance(raw, dict):
        raise ctx.error("concepts", "must map concept names to lists of terms")
    concepts: dict[str, tuple[Term, ...]] = {}
    for name, terms in raw.items():
        key = f"concepts.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"\w+", name):
            raise ctx.error(key, "concept names are single words (letters, digits, _)")
        if not isinstance(terms, list) or not terms:
            raise ctx.error(key, "empty term list (give at least one word or phrase)")
        concepts[name] = tuple(_compile_term(ctx, key, name, term) for term in terms)
    return concepts


def _compile_term(ctx: _Context, key: str, concept: str, term: Any) -> Term:
    if isinstance(term, int) and not isinstance(term, bool):
        term = str(term)
    if not isinstance(term, str) or not term.strip():
        raise ctx.error(key, f"terms must be non-empty text, got {term!r}")
    term = term.strip()
    if term.startswith("re:"):
        return Term(term, concept, (_regex_part(ctx, key, term[3:]),))
    kazakh = bool(textmod.KAZAKH_LETTERS & set(textmod.normalize(term)))
    parts = tuple(
        part for chunk in term.split() for part in _compile_chunk(ctx, key, chunk, kazakh)
    )
    if not parts:
        raise ctx.error(key, f"term {term!r} has no letters or digits")
    if len(parts) > MAX_TERM_WORDS:
        raise ctx.error(key, f"term {term!r} is longer than {MAX_TERM_WORDS} words")
    return Term(term, concept, parts, checked=len(parts) > 1 or parts[0].kind == "acronym")


def _regex_part(ctx: _Context, key: str, pattern: str) -> Part:
    if _NESTED_REPEAT.search(pattern):
        raise ctx.error(key, f"regular expression {pattern!r} repeats a repetition (too slow)")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ctx.error(key, f"bad regular expression {pattern!r}: {exc}") from exc
    return Part("regex", pattern, compiled)


def _compile_chunk(ctx: _Context, key: str, chunk: str, kazakh: bool) -> list[Part]:
    """Parts of one space-separated chunk; hyphens split words (Нур-Султан), '*' ends a prefix."""
    raws = textmod.tokens(chunk.rstrip("*"))
    parts = [_word_part(raw, kazakh) for raw in raws]
    if chunk.endswith("*") and raws:
        value = textmod.norm_word(raws[-1])
        if len(value) < MIN_PREFIX:
            raise ctx.error(key, f"prefix {chunk!r} needs at least {MIN_PREFIX} letters")
        parts[-1] = Part("prefix", value)
    return parts


def _word_part(raw: str, kazakh: bool) -> Part:
    """A word of a term. In a Kazakh term, a word without Kazakh-only letters (алу) also takes
    its Kazakh stem: the text may inflect it with a suffix that has one (алуға)."""
    stem = textmod.stem(raw)
    if len(raw) >= 2 and raw.isupper():
        return Part("acronym", stem)
    also = textmod.kazakh_stem(textmod.norm_word(raw)) if kazakh else None
    return Part("stem", stem, also=also if also != stem else None)


def _index(concepts: Mapping[str, tuple[Term, ...]]) -> dict[str, Any]:
    """Look-up tables by the first word of each term: stem, first letters of a prefix, regex."""
    exact: dict[str, list[Term]] = {}
    prefixes: dict[str, list[Term]] = {}
    regexes: list[Term] = []
    for terms in concepts.values():
        for term in terms:
            first = term.parts[0]
            if first.kind == "regex":
                regexes.append(term)
            elif first.kind == "prefix":
                prefixes.setdefault(first.value[:MIN_PREFIX], []).append(term)
            else:
                for key in filter(None, (first.value, first.also)):
                    exact.setdefault(key, []).append(term)
    return {
        "_exact": {k: tuple(v) for k, v in exact.items()},
        "_prefixes": {k: tuple(v) for k, v in prefixes.items()},
        "_regexes": tuple(regexes),
    }


def _compile_rule(ctx: _Context, key: str, raw: Any, concepts: Mapping[str, Any]) -> Rule:
    if not isinstance(raw, dict):
        raise ctx.error(key, "a rule is a mapping such as {any: concept, weight: 2}")
    unknown = [k for k in raw if k not in RULE_KINDS and k not in _RULE_OPTIONS]
    if unknown:
        raise ctx.error(f"{key}.{unknown[0]}", f"unknown rule key (kinds: {', '.join(RULE_KINDS)})")
    kinds = [k for k in raw if k in RULE_KINDS]
    if len(kinds) != 1:
        raise ctx.error(key, f"a rule needs exactly one kind of {', '.join(RULE_KINDS)}")
    kind = kinds[0]
    groups = _groups(ctx, f"{key}.{kind}", raw[kind], concepts)
    if kind == "near" and len(groups) != 2:
        raise ctx.error(f"{key}.near", "near takes two sides: [concept A, concept B]")
    counted = kind in ("any", "near")
    discard = _flag(ctx, key, raw, "discard", kind == "near")
    if discard and "weight" in raw:
        raise ctx.error(f"{key}.weight", "a discard rule drops hits and adds no weight")
    return Rule(
        name=_rule_name(ctx, key, raw, kind, groups),
        kind=kind,
        groups=groups,
        weight=_weight(ctx, f"{key}.weight", raw.get("weight", 1)) if not discard else 0.0,
        discard=discard,
        whole_article=_scope(ctx, f"{key}.scope", raw.get("scope", "sentence"), raw),
        only_in=_only_in(ctx, f"{key}.in", raw.get("in", list(FIELDS)), counted),
        times=_int_option(ctx, key, raw, "times", counted, False, MAX_TIMES) or 1,
        window=_int_option(ctx, key, raw, "window", kind == "near", True, MAX_WINDOW),
        same_sentence=_flag(ctx, key, raw, "same_sentence", kind == "near"),
        min=_int_option(ctx, key, raw, "min", kind == "distinct", True, len(groups)),
        with_=_groups(ctx, f"{key}.with", raw.get("with", []), concepts, empty_ok=True),
        unless=_groups(ctx, f"{key}.unless", raw.get("unless", []), concepts, empty_ok=True),
        lang=_lang(ctx, f"{key}.lang", raw.get("lang")),
    )


def _groups(
    ctx: _Context, key: str, value: Any, concepts: Mapping[str, Any], empty_ok: bool = False
) -> tuple[Group, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or (not items and not empty_ok):
        raise ctx.error(key, "expected a concept name or a list of concept names")
    groups = []
    for item in items:
        names = [item] if isinstance(item, str) else item
        if not isinstance(names, list) or not names:
            raise ctx.error(key, f"expected a concept name or a list of them, got {item!r}")
        for name in names:
            if name not in concepts:
                raise ctx.error(key, f"unknown concept {name!r}")
        groups.append(tuple(names))
    return tuple(groups)


def _rule_name(ctx: _Context, key: str, raw: dict[str, Any], kind: str, groups: Any) -> str:
    name = raw.get("name")
    if name is None:
        return f"{kind}({', '.join('|'.join(group) for group in groups)})"
    if not isinstance(name, str) or not name.strip():
        raise ctx.error(f"{key}.name", "must be non-empty text")
    return name.strip()


def _weight(ctx: _Context, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
        raise ctx.error(key, f"must be a non-zero number, got {value!r}")
    return float(value)


def _int_option(
    ctx: _Context, key: str, raw: dict[str, Any], option: str, allowed: bool, required: bool,
    maximum: int,
) -> int:  # fmt: skip
    value = raw.get(option)
    if value is None:
        if allowed and required:
            raise ctx.error(f"{key}.{option}", "required for this kind of rule")
        return 0
    if not allowed:
        raise ctx.error(f"{key}.{option}", "not used by this kind of rule")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ctx.error(f"{key}.{option}", f"must be a whole number from 1 to {maximum}")
    return value


def _flag(ctx: _Context, key: str, raw: dict[str, Any], option: str, allowed: bool) -> bool:
    value = raw.get(option, False)
    if value is not False and not allowed:
        raise ctx.error(f"{key}.{option}", "not used by this kind of rule")
    if not isinstance(value, bool):
        raise ctx.error(f"{key}.{option}", f"must be true or false, got {value!r}")
    return value


def _only_in(ctx: _Context, key: str, value: Any, allowed: bool) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or any(n not in FIELDS for n in names):
        raise ctx.error(key, f"must list fields among {', '.join(FIELDS)}, got {value!r}")
    if not allowed and tuple(names) != FIELDS:
        raise ctx.error(key, "only any and near rules can be limited to fields")
    return tuple(names)


def _scope(ctx: _Context, key: str, value: Any, raw: dict[str, Any]) -> bool:
    if value not in ("sentence", "article"):
        raise ctx.error(key, f"must be sentence or article, got {value!r}")
    if value == "article" and not (
        isinstance(raw.get("weight"), int | float) and raw["weight"] < 0
    ):
        raise ctx.error(key, "only a rule with a negative weight has a scope")
    return value == "article"


def _lang(ctx: _Context, key: str, value: Any) -> str | None:
    if value is not None and value not in LANGS:
        raise ctx.error(key, f"must be one of {', '.join(LANGS)}, got {value!r}")
    return value


# --- matching -----------------------------------------------------------------------------------


@dataclass
class Match:
    """A topic an article matched, its score and the evidence for it."""

    topic: str
    score: float
    evidence: list[dict[str, Any]]


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
    raws: list[str] = field(default_factory=list)  # the field's tokens
    _spans: list[tuple[int, int]] | None = None

    def span(self, position: int) -> tuple[int, int]:
        """Character offsets of the token at an article position (tokens are found in order)."""
        if self._spans is None:
            self._spans, end = [], 0
            for raw in self.raws:
                start = self.text.find(raw, end)
                end = start + len(raw)
                self._spans.append((start, end))
        return self._spans[position - self.first]


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

    def field_of(self, hit: Hit) -> str:
        return self.sentence_field[hit.sentence]


@lru_cache(maxsize=200_000)
def _analyse_token(raw: str) -> tuple[str, str, int, int]:
    """Normalised form, stem, and 1/0 flags: has Cyrillic letters, has Kazakh-only letters."""
    norm = textmod.norm_word(raw)
    letters = set(norm)
    kazakh = bool(textmod.KAZAKH_LETTERS & letters)
    cyrillic = kazakh or bool(textmod.CYRILLIC & letters)
    return norm, textmod.stem_words((norm,))[0], int(cyrillic), int(kazakh)


def _analyse(title: str, lead: str, text: str) -> _Article:
    """Tokenise, normalise and stem the fields of an article once; guess its language."""
    raws: list[str] = []
    sentences: list[int] = []
    sentence_field: list[str] = []
    fields: dict[str, _FieldText] = {}
    for name, value in zip(FIELDS, (title, lead, text), strict=True):
        first = len(raws)
        for sentence in _SENTENCE_BREAK.split(value):
            found = textmod.tokens(sentence)
            raws.extend(found)
            sentences.extend([len(sentence_field)] * len(found))
            sentence_field.append(name)
        fields[name] = _FieldText(name, value, first, raws[first:])
    analysed = list(map(_analyse_token, raws))
    cyrillic = sum(map(itemgetter(2), analysed))
    kazakh = sum(map(itemgetter(3), analysed))
    lang = "kk" if cyrillic and kazakh / cyrillic >= KAZAKH_SHARE else "ru"
    return _Article(
        raws=raws,
        norms=list(map(itemgetter(0), analysed)),
        stems=list(map(itemgetter(1), analysed)),
        sentences=sentences,
        sentence_field=sentence_field,
        fields=fields,
        lang=lang,
    )


def match_article(
    topics: Iterable[Topic], *, title: str = "", lead: str = "", text: str = ""
) -> list[Match]:
    """Return the topics this article matches, each with its score and evidence."""
    article = _analyse(title or "", lead or "", text or "")
    matches = []
    for topic in topics:
        found = _match_topic(topic, article)
        if found is not None:
            matches.append(found)
    return matches


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


def _match_topic(topic: Topic, article: _Article) -> Match | None:
    every_hit = _find_hits(topic, article)
    if not every_hit:
        return None
    fired = _fire(topic.rules, every_hit, article, topic.field_weights, negative=True)
    hits = dict(every_hit)
    for rule, firings in fired:
        if rule.discard:
            _discard(hits, firings)
    fired += _fire(topic.rules, hits, article, topic.field_weights, negative=False)
    score = _score(fired, article, topic.sentence_cap)
    if score < topic.threshold:
        return None
    evidence = [
        _evidence(rule, factor, found, article)
        for rule, firings in fired
        for factor, found in firings
    ]
    return Match(topic=topic.slug, score=round(score, 2), evidence=evidence)


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
    rules: Iterable[Rule],
    hits: Mapping[str, list[Hit]],
    article: _Article,
    weights: Mapping[str, float],
    negative: bool,
) -> list[tuple[Rule, list[Firing]]]:
    """Fire the discard and negative rules (negative=True) or the positive ones."""
    present = {concept for concept, found in hits.items() if found}
    fired = []
    for rule in rules:
        if (rule.discard or rule.weight < 0) != negative or not _applies(
            rule, present, article.lang
        ):
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


def _applies(rule: Rule, present: set[str], lang: str) -> bool:
    """Whether the rule can fire: its language, its with/unless concepts, its own concepts."""
    if rule.lang is not None and rule.lang != lang:
        return False
    if rule.kind == "near" and not all(present.intersection(group) for group in rule.groups):
        return False
    if rule.kind == "any" and not any(present.intersection(group) for group in rule.groups):
        return False
    if not all(present.intersection(group) for group in rule.with_):
        return False
    return not any(present.intersection(group) for group in rule.unless)


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
        satisfied = [group for group in rule.groups if present.intersection(group)]
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
