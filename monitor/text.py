"""The word analyser: normalisation, tokenisation and word keys for Russian and Kazakh news text.

The same functions prepare indexed text, topic terms and user queries, so a query finds every form
and spelling of a word:

- ``normalize`` case-folds, maps ё to е, repairs Latin look-alike letters inside Cyrillic words
  (``OДKБ`` typed with Latin O and K becomes ``одкб``), transliterates Kazakh Latin words
  (``Qañtar`` → ``қаңтар``, ``Qantar`` → ``қантар``) and collapses whitespace.
- ``stem`` reduces one word to its key (still called a stem):
  - Kazakh words (with a Kazakh-only letter ``әғқңөұүһі``, or a known Kazakh stem) go through a
    light suffix stripper for Kazakh agglutination; a Kazakh spelling of a Russian-style surname
    (Тоқаевтың) is then read as the Russian one (Токаев).
  - Other Cyrillic words go through pymorphy3, a Russian morphological dictionary: a word it
    knows is reduced to its lemma (беспорядки → беспорядок, so the fleeting vowel no longer
    splits the word), a surname in any case to the surname (Токаева, Токаевым → Токаев); the
    lemma then goes through Snowball Russian (PyStemmer), which keeps related forms together
    (январские, январских → январск). Words the dictionary does not know go to Snowball directly.
  - Latin words and numbers are left as they are.
  - Finally, spellings of one name in Russian, Kazakh and Latin letters (Жанаозен, Жаңаөзен,
    Zhanaozen) get one key, from the vocabulary file ``seeds/analyser.yml``.
- ``words`` and ``stem_text`` tokenise text on letters and digits (hyphens split words);
  ``stem_text`` also folds two-word spellings (Алма-Ата → Алматы) for the search index.

The topic's own words (Kazakh stems, names and their spellings) are data, in
``seeds/analyser.yml``, loaded once. ``analyser_version()`` names the rules and that data: the
search index records the version it was built with, and is rebuilt when it changes
(``monitor reindex``). Keys are cached per word: every word is analysed once per process.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path

import Stemmer
import yaml

from monitor.errors import MonitorError

__all__ = [
    "ANALYSER_VERSION",
    "KAZAKH_LETTERS",
    "VOCABULARY",
    "analyser_version",
    "kazakh_stem",
    "iter_key_spans",
    "key_spans",
    "load_vocabulary",
    "norm_word",
    "normalize",
    "stem",
    "stem_text",
    "stem_words",
    "token_spans",
    "tokens",
    "words",
]

# The version of the analyser's rules: raise it whenever a change to this module gives any word
# another key. analyser_version() adds the vocabulary file and the dictionary to it.
ANALYSER_VERSION = 2
# Kazakh stems, names and spellings the rules need (see the file's header).
VOCABULARY = Path(__file__).resolve().parent.parent / "seeds" / "analyser.yml"

KAZAKH_LETTERS = frozenset("әғқңөұүһі")
CYRILLIC = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя") | KAZAKH_LETTERS
VOWELS = frozenset("аәеёиоөуұүыіэюя")

# A word: a run of letters, digits, soft hyphens, zero-width joiners and combining marks (the
# invisible ones and underscores are removed by normalisation). A single character class: linear.
_TOKEN = re.compile(r"[\w\u00ad\u200b-\u200d\u2060\u0300-\u036f]+")
_INVISIBLE = dict.fromkeys(map(ord, "_\u00ad\u200b\u200c\u200d\u2060\ufeff\u0300\u0301"))

# Latin letters that look like Cyrillic ones, used only inside words that also hold Cyrillic.
_LOOKALIKE = str.maketrans(
    "ABCEHKMOPTXYIaceopxyikhəƏɵƟ",
    "АВСЕНКМОРТХУІасеорхуікһәӘөӨ",
)
_MIXED = re.compile(
    r"[a-zA-ZəƏɵƟ][а-яёА-ЯЁәғқңөұүһіӘҒҚҢӨҰҮҺІ]|[а-яёА-ЯЁәғқңөұүһіӘҒҚҢӨҰҮҺІ][a-zA-ZəƏɵƟ]"
)

# Kazakh Latin (2021 alphabet, plus common informal digraphs) to Cyrillic. A Latin word is taken
# for Kazakh only if it has a Kazakh-Latin marker: q not followed by u, or ä ğ ñ ū ı.
_KK_LATIN_MARKER = re.compile(r"q(?!u)|[äğñūı]")
_KK_LATIN_DIGRAPHS = (("sh", "ш"), ("ch", "ч"), ("zh", "ж"))
_KK_LATIN = str.maketrans(
    {
        "a": "а", "ä": "ә", "b": "б", "c": "с", "ç": "ч", "d": "д", "e": "е", "f": "ф",
        "g": "г", "ğ": "ғ", "h": "х", "i": "і", "ı": "и", "j": "ж", "k": "к", "l": "л",
        "m": "м", "n": "н", "ñ": "ң", "o": "о", "ö": "ө", "p": "п", "q": "қ", "r": "р",
        "s": "с", "ş": "ш", "t": "т", "u": "у", "ū": "ұ", "ü": "ү", "v": "в", "w": "у",
        "x": "х", "y": "ы", "z": "з",
    }
)  # fmt: skip

_STEMMERS = threading.local()
_MORPH_LOCK = threading.Lock()


def _ru_stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_STEMMERS, "ru", None)
    if stemmer is None:
        stemmer = _STEMMERS.ru = Stemmer.Stemmer("russian")
    return stemmer


@cache
def _morph():
    """The pymorphy3 analyser (about 0.15 s and 15 MB to load: only when a Russian word comes)."""
    import pymorphy3

    logging.getLogger("pymorphy3").setLevel(logging.WARNING)  # not a line per crawl in the log
    with _MORPH_LOCK:
        return pymorphy3.MorphAnalyzer(lang="ru")


def normalize(text: str) -> str:
    """Return text case-folded and unified, with runs of whitespace collapsed to one space."""
    text = _TOKEN.sub(lambda m: norm_word(m.group()), text)
    return " ".join(text.casefold().replace("ё", "е").split())


@lru_cache(maxsize=200_000)
def norm_word(token: str) -> str:
    """Normalise one raw token (as found by ``tokens``)."""
    token = unicodedata.normalize("NFC", token)
    if _MIXED.search(token):
        token = token.translate(_LOOKALIKE)
    token = token.translate(_INVISIBLE).casefold().replace("ё", "е")
    if len(token) >= 3 and _KK_LATIN_MARKER.search(token) and _is_latin(token):
        token = _kazakh_latin_to_cyrillic(token)
    return token


def _is_latin(word: str) -> bool:
    return all("a" <= c <= "z" or c in "äçğıñöşūü" for c in word)


def _kazakh_latin_to_cyrillic(word: str) -> str:
    for latin, cyrillic in _KK_LATIN_DIGRAPHS:
        word = word.replace(latin, cyrillic)
    return word.translate(_KK_LATIN)


def tokens(text: str) -> list[str]:
    """Raw word tokens of text, in order, exactly as written (use ``words`` for normalised ones)."""
    return _TOKEN.findall(text)


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character offsets (start, end) of each raw token, in order."""
    return [m.span() for m in _TOKEN.finditer(text)]


def words(text: str) -> list[str]:
    """Normalised word tokens of text; numbers are kept ("2022")."""
    return [w for w in map(norm_word, _TOKEN.findall(text)) if w]


def stem_text(text: str) -> str:
    """Normalise, tokenise and stem text, stems joined by single spaces (for FTS and queries).

    Two-word spellings of a name (Алма-Ата) are folded into its one-word key (Алматы)."""
    return " ".join(fold_phrases(stem_words(words(text))))


def key_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, key) of each word of text as stem_text reads it: a folded two-word spelling
    is one span over both words (for highlighting what a search found)."""
    return list(iter_key_spans(text))


def iter_key_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """key_spans one at a time, reading no further into text than needed."""
    phrases = _vocabulary().phrases
    spans = (
        (m.start(), m.end(), _stem_normalised(norm))
        for m in _TOKEN.finditer(text)
        if (norm := norm_word(m.group()))
    )
    if not phrases:
        yield from spans
        return
    pending: list[tuple[int, int, str]] = []
    longest = max(len(phrase) for options in phrases.values() for phrase, _ in options)
    while True:
        while len(pending) < longest:
            span = next(spans, None)
            if span is None:
                break
            pending.append(span)
        if not pending:
            return
        for phrase, key in phrases.get(pending[0][2], ()):
            n = len(phrase)
            if tuple(s[2] for s in pending[:n]) == phrase:
                yield (pending[0][0], pending[n - 1][1], key)
                del pending[:n]
                break
        else:
            yield pending.pop(0)


def fold_phrases(stems: list[str]) -> list[str]:
    """Keys with each two-word spelling of a name (алм ат: Алма-Ата) replaced by its key."""
    phrases = _vocabulary().phrases
    if not phrases or not any(s in phrases for s in stems):
        return stems
    out: list[str] = []
    i = 0
    while i < len(stems):
        for phrase, key in phrases.get(stems[i], ()):
            if tuple(stems[i : i + len(phrase)]) == phrase:
                out.append(key)
                i += len(phrase)
                break
        else:
            out.append(stems[i])
            i += 1
    return out


def stem_words(normalised: Iterable[str]) -> list[str]:
    """Stems of already normalised words."""
    return [_stem_normalised(w) for w in normalised]


def stem(word: str) -> str:
    """Key of one word: Kazakh suffix stripping, the Russian lemma and Snowball, or the word
    itself; spellings of one name share a key."""
    word = word.strip()
    if not word:
        return ""
    return _stem_normalised(normalize(word).replace(" ", ""))


# --- Kazakh -------------------------------------------------------------------------------------

_RUSSIAN_ENDINGS = ("ами", "ом", "ой", "ем", "ах", "ам", "а", "у", "е", "ы", "и")

_VOICED = frozenset("лмнңрйузж")
_VOICELESS = frozenset("кқпстшфхцчщбвгдһ")
_AFTER_VOWEL_OR_VOICED = VOWELS | _VOICED
_CONSONANT = _VOICED | _VOICELESS | frozenset("иу")
# Before a vowel-initial suffix a final қ, к, п are voiced to ғ, г, б (жылдық → жылдығы).
_DEVOICE = {"ғ": "қ", "г": "к", "б": "п"}
_BEFORE_VOWEL_SUFFIX = _CONSONANT | frozenset(_DEVOICE)
_ANY = VOWELS | _CONSONANT | frozenset("ьъ")
_POSS3 = frozenset("ыі")

# (suffix, letters allowed just before it). Kazakh picks a suffix's variant by the sound it follows,
# so the allowed letters keep the stripper from cutting roots that merely end like a suffix
# (қаңтар does not lose "тар": the plural after ң is -дар).
_SUFFIX_RULES: tuple[tuple[str, frozenset[str]], ...] = (
    # plural
    ("лар", VOWELS | frozenset("рйу")),
    ("лер", VOWELS | frozenset("рйу")),
    ("дар", frozenset("лмнңзж")),
    ("дер", frozenset("лмнңзж")),
    ("тар", _VOICELESS),
    ("тер", _VOICELESS),
    # possessive
    ("ымыз", _BEFORE_VOWEL_SUFFIX),
    ("іміз", _BEFORE_VOWEL_SUFFIX),
    ("мыз", VOWELS),
    ("міз", VOWELS),
    ("ыңыз", _BEFORE_VOWEL_SUFFIX),
    ("іңіз", _BEFORE_VOWEL_SUFFIX),
    ("сы", VOWELS),
    ("сі", VOWELS),
    ("ы", _BEFORE_VOWEL_SUFFIX),
    ("і", _BEFORE_VOWEL_SUFFIX),
    # genitive
    ("ның", VOWELS | frozenset("мнң")),
    ("нің", VOWELS | frozenset("мнң")),
    ("дың", frozenset("лрйузж")),
    ("дің", frozenset("лрйузж")),
    ("тың", _VOICELESS),
    ("тің", _VOICELESS),
    # accusative
    ("ны", VOWELS),
    ("ні", VOWELS),
    ("ды", _VOICED),
    ("ді", _VOICED),
    ("ты", _VOICELESS),
    ("ті", _VOICELESS),
    ("сын", VOWELS),
    ("сін", VOWELS),
    ("ын", _BEFORE_VOWEL_SUFFIX),
    ("ін", _BEFORE_VOWEL_SUFFIX),
    # dative
    ("ға", _AFTER_VOWEL_OR_VOICED),
    ("ге", _AFTER_VOWEL_OR_VOICED),
    ("қа", _VOICELESS),
    ("ке", _VOICELESS),
    ("на", _POSS3),
    ("не", _POSS3),
    # locative and locative adjective
    ("ндағы", _POSS3),
    ("ндегі", _POSS3),
    ("дағы", _AFTER_VOWEL_OR_VOICED),
    ("дегі", _AFTER_VOWEL_OR_VOICED),
    ("тағы", _VOICELESS),
    ("тегі", _VOICELESS),
    ("нда", _POSS3),
    ("нде", _POSS3),
    ("да", _AFTER_VOWEL_OR_VOICED),
    ("де", _AFTER_VOWEL_OR_VOICED),
    ("та", _VOICELESS),
    ("те", _VOICELESS),
    # ablative
    ("дан", VOWELS | frozenset("лрйузж")),
    ("ден", VOWELS | frozenset("лрйузж")),
    ("нан", _POSS3 | frozenset("мнң")),
    ("нен", _POSS3 | frozenset("мнң")),
    ("тан", _VOICELESS),
    ("тен", _VOICELESS),
    # instrumental (used after any sound in practice)
    ("мен", _ANY),
    ("бен", _ANY),
    ("пен", _ANY),
    # adjective of time and place (2022 жылғы)
    ("ғы", _VOICED),
    ("гі", _VOICED),
    ("қы", _VOICELESS),
    ("кі", _VOICELESS),
)


def _by_last_letter() -> dict[str, tuple[tuple[str, frozenset[str]], ...]]:
    table: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for rule in sorted(_SUFFIX_RULES, key=lambda rule: len(rule[0]), reverse=True):
        table.setdefault(rule[0][-1], []).append(rule)
    return {letter: tuple(rules) for letter, rules in table.items()}


_SUFFIXES_BY_LAST_LETTER = _by_last_letter()  # longest first
MIN_KAZAKH_STEM = 3
# Word endings that belong to the root, never to a suffix (Қазақстан is not Қазақс + -тан).
_ROOT_ENDINGS = ("стан",)


def kazakh_stem(word: str) -> str:
    """Strip stacked Kazakh plural, possessive and case suffixes from a normalised word."""
    known = _vocabulary().kazakh_stems
    for _ in range(8):
        if word in known:
            return word
        shorter = _strip_one_suffix(word)
        if shorter == word:
            return word
        word = shorter
    return word


def _strip_one_suffix(word: str) -> str:
    if word.endswith(_ROOT_ENDINGS):
        return word
    for suffix, allowed_before in _SUFFIXES_BY_LAST_LETTER.get(word[-1:], ()):
        rest = len(word) - len(suffix)
        if rest >= MIN_KAZAKH_STEM and word.endswith(suffix) and word[rest - 1] in allowed_before:
            stem = word[:rest]
            if suffix[0] in VOWELS and stem[-1] in _DEVOICE:
                stem = stem[:-1] + _DEVOICE[stem[-1]]
            return stem
    return word


def _known_kazakh(word: str) -> str | None:
    vocabulary = _vocabulary()
    if word in vocabulary.kazakh_stems:
        return word
    if word[:3] not in vocabulary.kazakh_starts:
        return None
    stripped = kazakh_stem(word)
    if stripped in vocabulary.kazakh_stems:
        return stripped
    for ending in _RUSSIAN_ENDINGS:
        if word.endswith(ending) and word[: -len(ending)] in vocabulary.kazakh_names:
            return word[: -len(ending)]
    return None


# --- Russian ------------------------------------------------------------------------------------

# A word that may be a Russian-style surname in some case (Токаева, Масимовым, Путиной): when the
# dictionary does not know it, its guess of a first name is not taken (Масимов is no plural of
# a name Масим).
_SURNAME_SHAPE = re.compile(r"(?:ов|ев|ин|ын)(?:а|у|ым|ой|ою|е|ы|ых|ыми)?$")
# Kazakh spelling of a Russian-style surname once its Kazakh suffixes are gone (Тоқаев, Мәсімова).
_KAZAKH_SURNAME = re.compile(r"(?:ов|ев|ин)а?$")
_PROPER = frozenset({"Name", "Patr"})
# Longer words are not in the dictionary (its guesser would only spend time on them).
MAX_DICTIONARY_WORD = 32
_PARTICIPLE = frozenset({"PRTF", "PRTS", "GRND"})
_KAZAKH_TO_RUSSIAN = str.maketrans("әғқңөұүһі", "агкноуухи")


def _russian_key(word: str) -> str:
    """Snowball stem of the word's lemma: of the surname for a surname in any case (Токаевым),
    of the dictionary's lemma for a word it knows (беспорядки), of the first name for a name it
    guesses (Касыма); else of the word itself."""
    stemmer = _ru_stemmer()
    if len(word) > MAX_DICTIONARY_WORD:
        return stemmer.stemWord(word)
    entries = _dictionary_entries(word)
    if entries:
        surname = next((lemma for tag, lemma in entries if "Surn" in tag), None)
        if surname is not None:
            return stemmer.stemWord(surname)
        if len({lemma for _, lemma in entries}) == 1:
            return _lemma_key(word, entries[0][0].POS, entries[0][1])
    # An ambiguous word (стали: стать or сталь) or one the dictionary does not know: the full
    # analysis, whose readings come most likely first (and are guessed for an unknown word).
    parses = _morph().parse(word)
    known = bool(parses) and parses[0].is_known
    for parse in parses:
        if "Surn" in parse.tag:
            return stemmer.stemWord(parse.normal_form.replace("ё", "е"))
    if known:
        return _lemma_key(word, parses[0].tag.POS, parses[0].normal_form.replace("ё", "е"))
    if parses and not _SURNAME_SHAPE.search(word) and _PROPER & parses[0].tag.grammemes:
        return stemmer.stemWord(parses[0].normal_form.replace("ё", "е"))
    return stemmer.stemWord(word)


def _lemma_key(word: str, pos: str | None, lemma: str) -> str:
    if pos in _PARTICIPLE:
        # A participle's lemma is its verb's infinitive, but the same participle used as a noun
        # (погибшие) has its own; the participle's Snowball stem agrees with both.
        return _ru_stemmer().stemWord(word)
    return _ru_stemmer().stemWord(lemma)


def _dictionary_entries(word: str) -> list[tuple]:
    """(tag, lemma) of every reading the dictionary has for the word: the look-up the full
    analysis starts with, without building its results (about 3 times faster)."""
    morph = _morph()
    dictionary = morph.dictionary
    return [
        (dictionary.build_tag_info(para, index),
         dictionary.build_normal_form(para, index, fixed).replace("ё", "е"))
        for fixed, readings in dictionary.words.similar_items(word, morph.char_substitutes)
        for para, index in readings
    ]  # fmt: skip


def _word_key(word: str) -> str:
    if not word or not (CYRILLIC & set(word)):
        return word
    known = _known_kazakh(word)
    if known is not None:
        return known
    if KAZAKH_LETTERS & set(word):
        stripped = kazakh_stem(word)
        if _KAZAKH_SURNAME.search(stripped):
            return _russian_key(stripped.translate(_KAZAKH_TO_RUSSIAN))
        return stripped
    return _russian_key(word)


@lru_cache(maxsize=200_000)
def _stem_normalised(word: str) -> str:
    key = _word_key(word)
    return _vocabulary().spellings.get(key, key)


# --- The vocabulary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocabulary:
    kazakh_stems: frozenset[str]
    kazakh_starts: frozenset[str]
    kazakh_names: frozenset[str]
    spellings: dict[str, str]  # key of a variant -> key of its canonical spelling
    phrases: dict[str, tuple[tuple[tuple[str, ...], str], ...]]  # first key -> (keys, key)
    digest: str


_EMPTY = _Vocabulary(frozenset(), frozenset(), frozenset(), {}, {}, "")
_loading = threading.local()


@cache
def load_vocabulary(path: Path) -> _Vocabulary:
    """The analyser's vocabulary file (see seeds/analyser.yml), checked; read once per path.

    Raises MonitorError with a one-line reason for a file that cannot be used."""
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw) or {}
    except OSError as exc:
        raise MonitorError(f"analyser vocabulary {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        reason = getattr(exc, "problem", None) or "cannot be read"
        raise MonitorError(f"analyser vocabulary {path}: not valid YAML{where}: {reason}") from None

    def word_list(key: str) -> frozenset[str]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise MonitorError(f"analyser vocabulary {path}: {key} must be a list of words")
        return frozenset(normalize(v) for v in value)

    stems = word_list("kazakh_stems")
    names = word_list("kazakh_names_in_russian")
    base = _Vocabulary(stems, frozenset(s[:3] for s in stems), names, {}, {}, "")
    groups = data.get("spellings") or []
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and len(g) >= 2 and all(isinstance(v, str) and v for v in g)
        for g in groups
    ):
        raise MonitorError(
            f"analyser vocabulary {path}: spellings must be a list of lists of two or more names"
        )
    # Keys of the spellings are the keys of the rules alone (with the Kazakh lists loaded).
    _loading.vocabulary = base
    try:
        spellings: dict[str, str] = {}
        phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for group in groups:
            canonical = [_word_key(w) for w in words(group[0])]
            if len(canonical) != 1:
                raise MonitorError(
                    f"analyser vocabulary {path}: spellings: {group[0]!r} must be one word"
                )
            for variant in group[1:]:
                keys = tuple(_word_key(w) for w in words(variant))
                if len(keys) == 1:
                    if keys[0] != canonical[0]:
                        spellings[keys[0]] = canonical[0]
                elif keys:
                    phrases.setdefault(keys[0], []).append((keys, canonical[0]))
    finally:
        _loading.vocabulary = None
    digest = hashlib.sha1(raw).hexdigest()[:8]
    return _Vocabulary(
        stems,
        base.kazakh_starts,
        names,
        spellings,
        {first: tuple(sorted(p, key=lambda p: -len(p[0]))) for first, p in phrases.items()},
        digest,
    )


def _vocabulary() -> _Vocabulary:
    loading = getattr(_loading, "vocabulary", None)
    if loading is not None:
        return loading
    return load_vocabulary(VOCABULARY)


@cache
def analyser_version() -> str:
    """The analyser's version: its rules, its vocabulary file and the Russian dictionary, as
    "2/1a2b3c4d/2.4.417150.4580142". Keys may differ between two versions."""
    try:
        dictionary = metadata.version("pymorphy3-dicts-ru")
    except metadata.PackageNotFoundError:
        dictionary = "none"
    return f"{ANALYSER_VERSION}/{_vocabulary().digest}/{dictionary}"
