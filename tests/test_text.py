"""Normalisation and stemming of Russian and Kazakh words (monitor.text)."""

import pytest

from monitor.errors import MonitorError
from monitor.text import VOCABULARY, load_vocabulary, normalize, stem, stem_text, words


def stems(*forms):
    return {stem(form) for form in forms}


def test_normalize_casefolds_unifies_yo_and_collapses_whitespace():
    assert normalize("  Всё   ЁЛКИ\n\tи\u00a0ЕЩЁ ") == "все елки и еще"


def test_normalize_repairs_latin_lookalikes_inside_cyrillic_words():
    # Latin O and K typed inside a Cyrillic acronym, Latin "a" inside Қаңтар, schwa for ә.
    assert normalize("OДKБ") == "одкб"
    assert normalize("Қaңтар") == "қаңтар"
    assert normalize("Əкімдік") == "әкімдік"


def test_normalize_keeps_latin_words_latin():
    assert normalize("CSTO and Kantar Public") == "csto and kantar public"
    assert normalize("quality") == "quality"


def test_normalize_transliterates_kazakh_latin():
    assert normalize("Qañtar") == "қаңтар"
    assert normalize("QAÑTAR") == "қаңтар"
    assert normalize("Qantar") == "қантар"  # without ñ it cannot know the ң
    assert normalize("Qazaqstan") == "қазақстан"


def test_normalize_removes_soft_hyphens_and_stress_marks():
    assert normalize("собы\u00adтия собы\u0301тия") == "события события"


def test_russian_inflections_share_a_stem():
    assert len(stems("событие", "события", "событий", "событиях", "событиями")) == 1
    assert len(stems("январские", "январских", "январским", "январская")) == 1
    assert len(stems("январь", "января", "январе")) == 1


def test_kazakh_agglutination_shares_a_stem():
    assert stems("оқиға", "оқиғасы", "оқиғалары", "оқиғаларына", "оқиғасынан") == {"оқиға"}
    assert stems("қаңтар", "қаңтарда", "қаңтардағы", "қаңтардың", "қаңтарынан") == {"қаңтар"}
    assert stems("тәртіпсіздік", "тәртіпсіздіктер", "тәртіпсіздіктерге") == {"тәртіпсіздік"}
    # A Kazakh spelling of a Russian-style surname is read as the Russian one.
    assert stems("Тоқаев", "Тоқаевтың", "Тоқаевқа") == stems("Токаев", "Токаевым")
    assert len(stems("Тоқаев")) == 1


def test_kazakh_suffixes_follow_the_sound_before_them():
    # -тар is a plural only after a voiceless sound: қаңтар keeps its "тар".
    assert stem("қаңтар") == "қаңтар"
    # A final қ voiced before a vowel is restored: жылдығы (its anniversary) → жылдық.
    assert stem("жылдығы") == stem("жылдық") == "жылдық"
    assert stem("жылдығы") != stem("жылы")
    # Country names ending in -стан are not cut as the ablative -тан.
    assert stems("Қазақстан", "Қазақстанда", "Қазақстаннан") == {"қазақстан"}


def test_kazakh_words_without_kazakh_letters_are_recognised_by_known_stems():
    assert stems("жылы", "жылғы", "жылдың", "жылдары") == {"жыл"}
    assert stems("басында", "басы") == {"бас"}


def test_stripping_never_goes_below_the_minimal_stem():
    assert stem("ұлға") == "ұлға"  # ұл + ға would leave two letters
    assert stem("сотта") == "сот"


def test_russian_text_declines_kazakh_names():
    assert stem("Қаңтара") == stem("Қаңтар") == "қаңтар"
    assert stems("Жанаозен", "Жанаозене", "Жанаозена") == {"жанаозен"}


@pytest.mark.parametrize("spelling", ["Кантар", "Кантара", "Кантаре"])
def test_russian_spelling_of_qantar_stems_to_one_form(spelling):
    assert stem(spelling) == "кантар"


def test_acronyms_are_not_stemmed():
    assert stem("ОДКБ") == "одкб"
    assert stem("ҰҚШҰ") == "ұқшұ"
    assert stem("CSTO") == "csto"


def test_words_keeps_numbers_and_splits_hyphens():
    assert words("ҰҚШҰ-ның бітімгерлері 2022 жылы, 5-қаңтарда") == [
        "ұқшұ",
        "ның",
        "бітімгерлері",
        "2022",
        "жылы",
        "5",
        "қаңтарда",
    ]


def test_words_of_normalised_text_are_the_same_words():
    text = "«Қанды Қаңтар»: OДKБ, Ёлка — собы\u00adтия 2022-го"
    assert words(normalize(text)) == words(text)


def test_stem_text_finds_a_query_in_any_inflection():
    indexed = stem_text("Токаев рассказал о причинах январских событий 2022 года.")
    assert stem_text("Январские события") in indexed
    indexed_kk = stem_text("Президент қаңтар оқиғаларына қатысты сұхбат берді")
    assert stem_text("қаңтар оқиғасы") in indexed_kk


def test_stem_text_joins_stems_with_single_spaces():
    assert stem_text("  ОДКБ   и\nмиротворцы ") == "одкб и миротворец"


# --- the vocabulary file ------------------------------------------------------------------------


def test_the_vocabulary_file_of_the_repository_loads():
    vocabulary = load_vocabulary(VOCABULARY)
    assert "қаңтар" in vocabulary.kazakh_stems
    assert vocabulary.spellings  # Жаңаөзен → Жанаозен and the others


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kazakh_stems: [жыл\n", "not valid YAML"),
        ("kazakh_stems: жыл\n", "kazakh_stems must be a list of words"),
        ("spellings: [Алматы, Almaty]\n", "spellings must be a list of lists"),
        ("spellings:\n  - [Алматы]\n", "spellings must be a list of lists"),
        ("spellings:\n  - [Алма-Ата, Алматы]\n", "'Алма-Ата' must be one word"),
    ],
)
def test_a_broken_vocabulary_file_is_refused_with_a_one_line_reason(tmp_path, content, message):
    path = tmp_path / "analyser.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MonitorError) as error:
        load_vocabulary(path)
    assert message in str(error.value) and str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_a_missing_vocabulary_file_is_refused(tmp_path):
    with pytest.raises(MonitorError, match="analyser vocabulary"):
        load_vocabulary(tmp_path / "nothing.yml")
