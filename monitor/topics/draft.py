"""A draft topic from a few example documents: the terms that set them apart from the corpus.

`monitor topic draft FILE...` compares the words of the examples (seed captures, stored
articles) with every article stored in the database: a word that most examples use and few
stored articles do is characteristic (a TF-IDF score over stems). Word forms are merged by
their stem and shown in their most frequent written form; names (written with a capital) and
two-word phrases get concepts of their own. Where the corpus holds articles in the other
language (Russian / Kazakh), the stored articles of that language that share the most
characteristic terms with the examples stand in for examples in that language. The output is a
YAML skeleton for seeds/topics.yml that a person edits: a starting point, not a finished topic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from monitor import text as textmod

MIN_LETTERS = 4  # shorter words are mostly function words
TERMS = 12  # per concept
PHRASES = 8
RELATED = 5  # stored articles of the other language that stand in for examples
_WORD = re.compile(r"^[^\W\d_]+$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_SENTENCE_END = re.compile(r"[.!?…:\n]")


@dataclass
class _Doc:
    """A document's stems in order and the written forms of each stem."""

    lang: str
    stems: list[str]
    forms: dict[str, Counter[str]] = field(default_factory=dict)
    capitalised: set[str] = field(default_factory=set)  # stems written with a capital mid-sentence
    lower: set[str] = field(default_factory=set)  # stems written in lower case somewhere

    @property
    def vocabulary(self) -> set[str]:
        return set(self.stems)


def _doc(fields: Mapping[str, Any]) -> _Doc:
    body = "\n".join(str(fields.get(k) or "") for k in ("title", "lead", "text"))
    spans = textmod.token_spans(body)
    raws = [body[a:b] for a, b in spans]
    starts = {a for a, _ in spans[:1]} | {
        a
        for (_, end), (a, _) in zip(spans, spans[1:], strict=False)
        if _SENTENCE_END.search(body[end:a])
    }
    norms = [textmod.norm_word(r) for r in raws]
    stems = textmod.stem_words(norms)
    doc = _Doc(str(fields.get("lang") or ""), [])
    for (start, _), raw, norm, stem in zip(spans, raws, norms, stems, strict=True):
        if start in starts and doc.stems:
            doc.stems.append("")  # phrases do not span sentences
        if not (_YEAR.match(norm) or (_WORD.match(norm) and len(norm) >= MIN_LETTERS)):
            stem = ""  # a boundary: phrases do not span it
        doc.stems.append(stem)
        if stem:
            doc.forms.setdefault(stem, Counter())[raw] += 1
            if raw[:1].islower():
                doc.lower.add(stem)
            elif raw[:1].isupper() and start not in starts:
                doc.capitalised.add(stem)
    return doc


def _characteristic(
    examples: list[_Doc], corpus_df: Counter[str], size: int
) -> list[tuple[float, str]]:
    """Stems by how characteristic they are of the examples (share of examples x IDF)."""
    share: Counter[str] = Counter()
    for doc in examples:
        share.update(doc.vocabulary - {""})
    needed = 1 if len(examples) == 1 else 2
    scored = [
        (count / len(examples) * math.log((size + 2) / (corpus_df[stem] + 1)), stem)
        for stem, count in share.items()
        if count >= needed
    ]
    return sorted((s for s in scored if s[0] > 0), reverse=True)


def _form(stem: str, docs: Iterable[_Doc]) -> str:
    forms: Counter[str] = Counter()
    for doc in docs:
        forms.update(doc.forms.get(stem, {}))
    return forms.most_common(1)[0][0] if forms else stem


def _name(form: str) -> str:
    """A name as a prefix that takes its case endings (Токаева -> Токаев*), acronyms as they are."""
    if form.isupper():
        return form
    base = form[:-1] if form[-1].lower() in textmod.VOWELS and len(form) > 5 else form
    return f"{base}*"


def _concepts(examples: list[_Doc], corpus_df: Counter[str], size: int) -> dict[str, list[str]]:
    """Names, words and phrases characteristic of the examples."""
    ranked = _characteristic(examples, corpus_df, size)
    top = {stem for _, stem in ranked[: TERMS * 4]}
    names: list[str] = []
    words: list[str] = []
    capitalised = set().union(*(d.capitalised for d in examples))
    lower = set().union(*(d.lower for d in examples))
    for _, stem in ranked:
        form = _form(stem, examples)
        if stem in capitalised and stem not in lower:
            if len(names) < TERMS:
                names.append(_name(form))
        elif len(words) < TERMS:
            words.append(form.lower())
    pairs: Counter[tuple[str, str]] = Counter()
    for doc in examples:
        pairs.update(
            {
                (a, b)
                for a, b in zip(doc.stems, doc.stems[1:], strict=False)
                if a in top and b in top
            }
        )
    needed = 1 if len(examples) == 1 else 2
    phrases = []
    for (a, b), count in pairs.most_common():
        if count >= needed and len(phrases) < PHRASES and a != b:
            phrases.append(f"{_form(a, examples)} {_form(b, examples)}".lower())
    found = {"names": names, "words": words, "phrases": phrases}
    return {key: value for key, value in found.items() if value}


def draft_topic(
    examples: list[Mapping[str, Any]],
    corpus: Iterable[Mapping[str, Any]],
    sources: list[str],
    slug: str = "draft",
) -> str:
    """A YAML skeleton of a topic characterised by `examples` against the `corpus` articles."""
    docs = [_doc(e) for e in examples]
    own = {tuple(d.stems) for d in docs}
    stored = [d for d in map(_doc, corpus) if tuple(d.stems) not in own]  # not the examples
    langs = sorted({d.lang for d in docs} | {d.lang for d in stored} & {"ru", "kk"})
    concepts: dict[str, list[str]] = {}
    for lang in [lang for lang in langs if lang in ("ru", "kk")] or [""]:
        in_lang = [d for d in stored if d.lang == lang or not lang]
        df: Counter[str] = Counter()
        for doc in in_lang:
            df.update(doc.vocabulary - {""})
        chosen = [d for d in docs if d.lang == lang or not lang]
        if not chosen:  # stand-ins: the stored articles closest to the examples' own terms
            anchors = {stem for _, stem in _characteristic(docs, _all_df(stored), len(stored))[:60]}
            close = sorted(in_lang, key=lambda d: -len(d.vocabulary & anchors))[:RELATED]
            chosen = [d for d in close if len(d.vocabulary & anchors) >= 2]
        if not chosen:
            continue
        for key, terms in _concepts(chosen, df, len(in_lang)).items():
            concepts[f"{key}_{lang}" if lang else key] = terms
    return _render(slug, sources, concepts, len(stored))


def _all_df(docs: list[_Doc]) -> Counter[str]:
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.vocabulary - {""})
    return df


def _render(slug: str, sources: list[str], concepts: dict[str, list[str]], size: int) -> str:
    """The skeleton, with comments saying what to do with it."""

    def flow(value: Any) -> str:
        return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10**6)

    names = [c for c in concepts if c.startswith("names")]
    others = [c for c in concepts if not c.startswith("names")]
    lines = [
        f"# A draft from {len(sources)} example(s) against {size} stored articles "
        "(`monitor topic draft`).",
        "# Edit it: regroup the terms into concepts by meaning, drop the accidental ones, add",
        "# the words a reader would expect, then check it with `monitor match` and",
        "# `monitor rematch --dry-run` before adding it to seeds/topics.yml.",
        "topics:",
        f"  - slug: {slug}",
        "    name: TODO a short name",
        "    description: >",
        "      TODO what belongs to the topic and what does not.",
        f"    seeds: {flow(sources).strip()}",
        "    threshold: 4",
        "    sentence_cap: 3",
        "    concepts:",
    ]
    for name, terms in concepts.items():
        lines.append(f"      {name}: {flow(terms).strip()}")
    lines.append("    rules:")
    phrases = [c for c in concepts if c.startswith("phrases")]
    if phrases:
        lines += [
            "      - name: a characteristic phrase",
            f"        any: {flow(phrases).strip()}",
            "        times: 2",
            "        weight: 2",
        ]
    if names and others:
        lines += [
            "      - name: a name near a characteristic word",
            f"        near: [{flow(names).strip()}, {flow(others).strip()}]",
            "        window: 10",
            "        times: 3",
            "        weight: 1",
        ]
    lines += [
        "      - name: several concepts",
        f"        distinct: {flow(list(concepts)).strip()}",
        f"        min: {min(2, len(concepts))}",
        "        weight: 2",
    ]
    return "\n".join(lines) + "\n"
