"""Normalisation, tokenisation and stemming for Russian and Kazakh news text.

The same functions prepare indexed text and user queries, so a query finds every form of a word:

- ``normalize`` case-folds, maps ё to е, repairs Latin look-alike letters inside Cyrillic words
  (``OДKБ`` typed with Latin O and K becomes ``одкб``), transliterates Kazakh Latin words
  (``Qañtar`` → ``қаңтар``, ``Qantar`` → ``қантар``) and collapses whitespace.
- ``stem`` reduces one word to its stem: Kazakh words (with a Kazakh-only letter ``әғқңөұүһі``, or
  a known Kazakh stem) through a light suffix stripper for Kazakh agglutination, other Cyrillic
  words through Snowball Russian (PyStemmer). Latin words and numbers are left as they are.
- ``words`` and ``stem_text`` tokenise text on letters and digits (hyphens split words).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

__all__ = [
    "KAZAKH_LETTERS",
    "kazakh_stem",
    "norm_word",
    "normalize",
    "stem",
    "stem_text",
    "stem_words",
    "tokens",
    "words",
]

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


def _ru_stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_STEMMERS, "ru", None)
    if stemmer is None:
        stemmer = _STEMMERS.ru = Stemmer.Stemmer("russian")
    return stemmer


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
    """Normalise, tokenise and stem text, stems joined by single spaces (for FTS and queries)."""
    return " ".join(stem_words(words(text)))


def stem_words(normalised: Iterable[str]) -> list[str]:
    """Stems of already normalised words."""
    return [_stem_normalised(w) for w in normalised]


def stem(word: str) -> str:
    """Stem of one word: Kazakh suffix stripping, Snowball Russian, or the word itself."""
    word = word.strip()
    if not word:
        return ""
    return _stem_normalised(normalize(word).replace(" ", ""))


# --- Kazakh -------------------------------------------------------------------------------------

# Kazakh stems that the stripper must not cut further, and that mark a word without Kazakh-only
# letters as Kazakh (жылы, жылдары → жыл). Keep entries lower-case and normalised.
KNOWN_KAZAKH_STEMS = frozenset(
    """
    қаңтар оқиға жаңаөзен жанаозен алматы ақтау атырау маңғыстау
    жыл бас сот тергеу шеру азап азаптау ереуіл митинг адам азамат бітімгер
    """.split()
)
# Kazakh names that Russian text declines with Russian endings (Қаңтара, Жанаозене).
_KAZAKH_NAMES = frozenset({"қаңтар", "жаңаөзен", "жанаозен"})
_KNOWN_STARTS = frozenset(stem[:3] for stem in KNOWN_KAZAKH_STEMS)
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
    for _ in range(8):
        if word in KNOWN_KAZAKH_STEMS:
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
    if word in KNOWN_KAZAKH_STEMS:
        return word
    if word[:3] not in _KNOWN_STARTS:
        return None
    stripped = kazakh_stem(word)
    if stripped in KNOWN_KAZAKH_STEMS:
        return stripped
    for ending in _RUSSIAN_ENDINGS:
        if word.endswith(ending) and word[: -len(ending)] in _KAZAKH_NAMES:
            return word[: -len(ending)]
    return None


@lru_cache(maxsize=200_000)
def _stem_normalised(word: str) -> str:
    if not word or not (CYRILLIC & set(word)):
        return word
    known = _known_kazakh(word)
    if known is not None:
        return known
    if KAZAKH_LETTERS & set(word):
        return kazakh_stem(word)
    return _ru_stemmer().stemWord(word)
