"""Word-level diffs of article versions (monitor/edits.py), in Russian and Kazakh."""

from __future__ import annotations

from monitor.edits import changed_lines, changed_words, word_diff


def texts(segments) -> tuple[str, str]:
    old = "".join(s.text for s in segments if s.op != "inserted")
    new = "".join(s.text for s in segments if s.op != "deleted")
    return old, new


def test_a_changed_kazakh_word_form_is_one_word_deleted_and_one_inserted():
    old = "Қаңтар оқиғасынан кейін бес адам сотталды."
    new = "Қаңтар оқиғаларынан кейін жеті адам сотталды."
    segments = word_diff(old, new)
    assert texts(segments) == (old, new)
    assert [s.text for s in segments if s.op == "deleted"] == ["оқиғасынан", "бес"]
    assert [s.text for s in segments if s.op == "inserted"] == ["оқиғаларынан", "жеті"]
    assert changed_words(segments) == (2, 2)


def test_punctuation_and_words_are_told_apart():
    old = "Токаев подписал указ. Ёлка стоит."
    new = "Токаев подписал указ, сообщила Акорда. Ёлка стоит."
    segments = word_diff(old, new)
    assert texts(segments) == (old, new)
    assert changed_words(segments) == (0, 2)
    assert "указ" in segments[0].text  # the word itself is unchanged


def test_an_added_paragraph_is_one_changed_line_and_nothing_else():
    old = "Первый абзац.\nВторой абзац."
    new = "Первый абзац.\nВторой абзац.\nРедакция дополнила материал."
    segments = word_diff(old, new)
    assert texts(segments) == (old, new)
    (line,) = changed_lines(segments)
    assert "".join(s.text for s in line if s.op == "inserted") == "Редакция дополнила материал."


def test_empty_and_missing_texts():
    assert word_diff(None, None) == []
    assert texts(word_diff("", "Жаңа мәтін")) == ("", "Жаңа мәтін")
    assert changed_words(word_diff("Ескі мәтін", None)) == (2, 0)
