"""The extraction score: word 4-gram shingles, macro precision and recall, F1 of the averages.

Written from the description in ../shared/eval/extraction/SCORING.md (the Zyte article
extraction benchmark's method): texts become runs of word characters, each text a multiset of
overlapping 4-grams (a text of fewer than 4 words gives one shorter shingle, an empty text none);
per document TP, FP and FN are counted occurrence by occurrence; precision is averaged over the
documents with a non-empty prediction, recall over those with a non-empty reference, and F1 is
the harmonic mean of the two averages. Accuracy is the share of documents whose token sequence
equals the reference's exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

_WORD = re.compile(r"\w+")
N = 4


def tokens(text: str | None) -> list[str]:
    """The word tokens of a text (case kept, punctuation and spacing dropped)."""
    return _WORD.findall(text or "")


def shingles(text: str | None, n: int = N) -> Counter[tuple[str, ...]]:
    """The multiset of word n-grams; a shorter text gives one shorter shingle, none if empty."""
    words = tokens(text)
    if not words:
        return Counter()
    if len(words) < n:
        return Counter([tuple(words)])
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


@dataclass(frozen=True)
class DocScore:
    tp: int
    fp: int
    fn: int
    exact: bool

    @property
    def precision(self) -> float | None:
        """None when the prediction is empty (it does not count in the precision average)."""
        if self.tp + self.fp == 0:
            return None
        return self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """None when the reference is empty (it does not count in the recall average)."""
        if self.tp + self.fn == 0:
            return None
        return self.tp / (self.tp + self.fn)


def score_document(prediction: str | None, reference: str | None) -> DocScore:
    pred, ref = shingles(prediction), shingles(reference)
    tp = sum((pred & ref).values())
    fp = sum(pred.values()) - tp
    fn = sum(ref.values()) - tp
    return DocScore(tp, fp, fn, tokens(prediction) == tokens(reference))


@dataclass(frozen=True)
class CorpusScore:
    precision: float
    recall: float
    f1: float
    accuracy: float
    documents: int


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def score_corpus(
    predictions: Mapping[str, str | None], references: Mapping[str, str | None]
) -> CorpusScore:
    """Macro P and R over the references' documents (a missing prediction is an empty one)."""
    docs = [score_document(predictions.get(key), ref) for key, ref in references.items()]
    precision = _mean([d.precision for d in docs if d.precision is not None])
    recall = _mean([d.recall for d in docs if d.recall is not None])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = _mean([1.0 if d.exact else 0.0 for d in docs])
    return CorpusScore(precision, recall, f1, accuracy, len(docs))
