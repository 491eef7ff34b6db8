"""Kazakh, Russian or other, from the text itself."""

from monitor import language


def test_kazakh_prose_is_kk():
    text = "Қаңтар оқиғалары туралы Президент сұхбат берді. Ол елдегі жағдайды түсіндірді."
    assert language.detect(text) == "kk"


def test_russian_prose_quoting_a_kazakh_word_stays_ru():
    text = (
        "Президент рассказал, почему Қаңтар не было народным восстанием, и напомнил о "
        "решении пригласить силы ОДКБ для охраны стратегических объектов в Алматы."
    )
    assert language.detect(text) == "ru"


def test_english_and_short_texts_use_the_hint():
    assert language.detect("The president gave an interview to the newspaper today.") == "en"
    assert language.detect("Тоқаев", hint="kk-KZ") == "kk"
