"""Compiling a topic's concepts and rules from their YAML form, checking every value.

Each term is stemmed with monitor.text when the file is loaded; each rule becomes a Rule.
Problems raise TopicError through a Context that names the file, the topic and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitor import text as textmod
from monitor.topics.model import (
    FIELDS,
    LANGS,
    MAX_TERM_WORDS,
    MAX_TIMES,
    MAX_WINDOW,
    MIN_PREFIX,
    NESTED_REPEAT,
    RULE_KINDS,
    WHEN,
    Group,
    Part,
    Rule,
    Term,
    TopicError,
)

_RULE_OPTIONS = {
    "name", "weight", "discard", "times", "window", "same_sentence", "min", "with", "unless",
    "lang", "scope", "in", "note", "when",
}  # fmt: skip


class Context:
    """Where a value sits (file, topic), to build one-line TopicError messages."""

    def __init__(self, path: Path, raw: Any, index: int):
        self.path = path
        slug = raw.get("slug") if isinstance(raw, dict) else None
        self.slug = slug if isinstance(slug, str) and slug else f"#{index}"

    def error(self, key: str, problem: str) -> TopicError:
        return TopicError(f"{self.path}: topic '{self.slug}': key '{key}': {problem}")


def compile_concepts(ctx: Context, raw: Any) -> dict[str, tuple[Term, ...]]:
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


def _compile_term(ctx: Context, key: str, concept: str, term: Any) -> Term:
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


def _regex_part(ctx: Context, key: str, pattern: str) -> Part:
    if NESTED_REPEAT.search(pattern):
        raise ctx.error(key, f"regular expression {pattern!r} repeats a repetition (too slow)")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ctx.error(key, f"bad regular expression {pattern!r}: {exc}") from exc
    return Part("regex", pattern, compiled)


def _compile_chunk(ctx: Context, key: str, chunk: str, kazakh: bool) -> list[Part]:
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


def term_index(concepts: Mapping[str, tuple[Term, ...]]) -> dict[str, Any]:
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


def compile_rule(
    ctx: Context, key: str, raw: Any, concepts: Mapping[str, Any], dated: bool = False
) -> Rule:
    """One rule; `dated` says whether the topic has a period (which `when` needs)."""
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
        when=_when(ctx, f"{key}.when", raw.get("when"), dated),
    )


def _groups(
    ctx: Context, key: str, value: Any, concepts: Mapping[str, Any], empty_ok: bool = False
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


def _rule_name(ctx: Context, key: str, raw: dict[str, Any], kind: str, groups: Any) -> str:
    name = raw.get("name")
    if name is None:
        return f"{kind}({', '.join('|'.join(group) for group in groups)})"
    if not isinstance(name, str) or not name.strip():
        raise ctx.error(f"{key}.name", "must be non-empty text")
    return name.strip()


def _weight(ctx: Context, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
        raise ctx.error(key, f"must be a non-zero number, got {value!r}")
    return float(value)


def _int_option(
    ctx: Context, key: str, raw: dict[str, Any], option: str, allowed: bool, required: bool,
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


def _flag(ctx: Context, key: str, raw: dict[str, Any], option: str, allowed: bool) -> bool:
    value = raw.get(option, False)
    if value is not False and not allowed:
        raise ctx.error(f"{key}.{option}", "not used by this kind of rule")
    if not isinstance(value, bool):
        raise ctx.error(f"{key}.{option}", f"must be true or false, got {value!r}")
    return value


def _only_in(ctx: Context, key: str, value: Any, allowed: bool) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or any(n not in FIELDS for n in names):
        raise ctx.error(key, f"must list fields among {', '.join(FIELDS)}, got {value!r}")
    if not allowed and tuple(names) != FIELDS:
        raise ctx.error(key, "only any and near rules can be limited to fields")
    return tuple(names)


def _scope(ctx: Context, key: str, value: Any, raw: dict[str, Any]) -> bool:
    if value not in ("sentence", "article"):
        raise ctx.error(key, f"must be sentence or article, got {value!r}")
    if value == "article" and not (
        isinstance(raw.get("weight"), int | float) and raw["weight"] < 0
    ):
        raise ctx.error(key, "only a rule with a negative weight has a scope")
    return value == "article"


def _lang(ctx: Context, key: str, value: Any) -> str | None:
    if value is not None and value not in LANGS:
        raise ctx.error(key, f"must be one of {', '.join(LANGS)}, got {value!r}")
    return value


def _when(ctx: Context, key: str, value: Any, dated: bool) -> str | None:
    if value is None:
        return None
    if value not in WHEN:
        raise ctx.error(key, f"must be one of {', '.join(WHEN)}, got {value!r}")
    if not dated:
        raise ctx.error(
            key, "needs the topic's period (period: {from: YYYY-MM-DD, to: YYYY-MM-DD})"
        )
    return value
