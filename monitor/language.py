"""Language of an article: Kazakh (`kk`), Russian (`ru`) or other, from the letters it uses.

Kazakh Cyrillic has nine letters Russian lacks (ә ғ қ ң ө ұ ү һ і). In Kazakh prose a large share
of words carries one of them; a Russian article that quotes a Kazakh word (Қаңтар) has only a few.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+")
_KAZAKH = re.compile(r"[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")
_CYRILLIC = re.compile(r"[а-яёА-ЯЁ]")
_LATIN = re.compile(r"[a-zA-Z]")

KAZAKH_SHARE = 0.15


def detect(text: str, hint: str | None = None) -> str | None:
    """Return "kk", "ru" or "en"; `hint` (the page's <html lang>) when the text is too short."""
    words = _WORD.findall(text or "")
    if len(words) < 3:
        return (hint or "")[:2].lower() or None
    cyrillic = [w for w in words if _CYRILLIC.search(w) or _KAZAKH.search(w)]
    if len(cyrillic) >= len(words) / 2:
        kazakh = sum(1 for w in cyrillic if _KAZAKH.search(w))
        return "kk" if kazakh / len(cyrillic) >= KAZAKH_SHARE else "ru"
    latin = sum(1 for w in words if _LATIN.search(w))
    if latin >= len(words) / 2:
        return "en" if not hint else hint[:2].lower()
    return (hint or "")[:2].lower() or None
