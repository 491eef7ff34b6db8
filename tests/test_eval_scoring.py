"""The extraction scorer of `make eval` (benchmarks/scoring.py) on small texts of our own."""

from __future__ import annotations

import pytest

from benchmarks.scoring import score_corpus, score_document, shingles


def test_shingles_are_word_4grams_counted_with_repeats():
    assert shingles("Один, два; три четыре пять!") == {
        ("Один", "два", "три", "четыре"): 1,
        ("два", "три", "четыре", "пять"): 1,
    }
    assert shingles("a b c d a b c d")[("a", "b", "c", "d")] == 2
    assert shingles("два слова") == {("два", "слова"): 1}  # shorter than 4: one shingle
    assert shingles("") == {} and shingles(None) == {}


def test_document_counts_extra_and_missing_shingles():
    reference = "Аким города открыл новую школу в микрорайоне"  # 7 words: 4 shingles
    exact = score_document(reference, reference)
    assert (exact.tp, exact.fp, exact.fn, exact.exact) == (4, 0, 0, True)
    # Punctuation and line breaks do not count; case does.
    assert score_document("Аким города — открыл\nновую школу, в микрорайоне.", reference).exact
    assert not score_document("аким города открыл новую школу в микрорайоне", reference).exact
    doubled = score_document(f"{reference} {reference}", reference)
    assert (doubled.tp, doubled.fp, doubled.fn) == (4, 7, 0)  # repeated text is a false positive
    half = score_document("Аким города открыл новую школу", reference)
    assert (half.precision, half.recall) == (1.0, 0.5)
    empty = score_document("", reference)
    assert empty.precision is None and empty.recall == 0.0


def test_corpus_scores_are_macro_averages_and_f1_of_the_averages():
    references = {
        "a": "один два три четыре пять шесть",  # 3 shingles
        "b": "семь восемь девять десять",  # 1 shingle
    }
    predictions = {
        "a": "один два три четыре пять шесть семь восемь девять",  # P 3/6, R 1
        "b": "",  # empty: counts in recall only
    }
    score = score_corpus(predictions, references)
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(0.5)  # (1 + 0) / 2
    assert score.f1 == pytest.approx(0.5)
    assert score.accuracy == 0.0
    assert score_corpus({"a": references["a"]}, references).recall == pytest.approx(0.5)
