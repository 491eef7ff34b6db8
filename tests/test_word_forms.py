"""The word-form list (tests/data/word_forms.yml): every pair the analyser must read as one word
does get one key, and no pair it must keep apart does."""

from pathlib import Path

import pytest
import yaml

from monitor.text import stem_text

DATA = yaml.safe_load(
    (Path(__file__).parent / "data" / "word_forms.yml").read_text(encoding="utf-8")
)


def pairs(kind: str) -> list:
    return [
        pytest.param(a, b, id=f"{lang}:{a}/{b}")
        for lang, listed in DATA[kind].items()
        for a, b in listed
    ]


def test_the_list_is_big_enough_in_both_languages():
    same, different = pairs("same"), pairs("different")
    assert len(same) + len(different) >= 150
    for kind in ("same", "different"):
        assert len(DATA[kind]["ru"]) >= 20 and len(DATA[kind]["kk"]) >= 20


@pytest.mark.parametrize(("a", "b"), pairs("same"))
def test_forms_and_spellings_of_one_word_share_a_key(a, b):
    assert stem_text(a) == stem_text(b)


@pytest.mark.parametrize(("a", "b"), pairs("different"))
def test_words_that_only_look_alike_keep_their_own_keys(a, b):
    assert stem_text(a) != stem_text(b)
