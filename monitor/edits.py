"""Edits: what changed between two versions of an article, word by word.

Texts are cut into words with monitor.text.token_spans (Cyrillic, Kazakh letters, Latin and
digits), and the gaps between them (spaces, punctuation) are compared as pieces of their own,
so a changed comma does not mark its word as changed. Words are compared exactly, case and
all: an edit from "Токаев" to "токаев" is an edit.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from monitor.text import token_spans


@dataclass(frozen=True)
class Segment:
    """A run of text: "same", "deleted" (only in the old text) or "inserted" (only in the new)."""

    op: str
    text: str


def _pieces(text: str) -> list[str]:
    """The text as alternating words and gaps (spaces, punctuation); joined, the text again."""
    pieces: list[str] = []

    def gap(chunk: str) -> None:  # a line break is a piece of its own: paragraphs align
        pieces.extend(p for p in re.split(r"(\n)", chunk) if p)

    at = 0
    for start, end in token_spans(text):
        if start > at:
            gap(text[at:start])
        pieces.append(text[start:end])
        at = end
    if at < len(text):
        gap(text[at:])
    return pieces


def word_diff(old: str | None, new: str | None) -> list[Segment]:
    """The word-level diff from `old` to `new`, as consecutive segments: the "same" and
    "deleted" ones joined give `old`, the "same" and "inserted" ones give `new`."""
    a, b = _pieces(old or ""), _pieces(new or "")
    out: list[Segment] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if out and out[-1].op == op:
            out[-1] = Segment(op, out[-1].text + text)
        else:
            out.append(Segment(op, text))

    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("same", "".join(b[j1:j2]))
            continue
        add("deleted", "".join(a[i1:i2]))
        add("inserted", "".join(b[j1:j2]))
    return out


def changed_words(segments: list[Segment]) -> tuple[int, int]:
    """How many words were deleted and inserted."""
    deleted = sum(len(token_spans(s.text)) for s in segments if s.op == "deleted")
    inserted = sum(len(token_spans(s.text)) for s in segments if s.op == "inserted")
    return deleted, inserted


def changed_lines(segments: list[Segment]) -> list[list[Segment]]:
    """The lines (paragraphs) of a diff that hold a change, each as its own segments."""
    lines: list[list[Segment]] = [[]]
    for segment in segments:
        parts = segment.text.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append(Segment(segment.op, part))
    return [line for line in lines if any(s.op != "same" for s in line)]
