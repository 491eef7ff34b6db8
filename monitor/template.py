"""The outlet template: the lines an outlet repeats on many of its pages, learned as it is crawled.

A crawler sees hundreds of pages of each outlet; a block of text that recurs across many of
them (menus, footers, "read also" boxes, subscription lines, the same sidebar headlines) is the
outlet's chrome whatever its markup. Each line of a page's extracted text is keyed by its
whitespace-collapsed text and its markup context on the page: whether it is the text of a link
(a 64-bit hash of both). `Template` counts, per key, the distinct pages it was seen on; a key
becomes chrome once

- the text of a link of the page (a headline in a list) was seen on at least LINK_PAGES other
  pages, a short line ("Share", a byline) on SHORT_PAGES;
- a prose line was seen on at least PROSE_PAGES other pages and on at least PROSE_SHARE of
  them (the outlet's standard legal line is; a sentence quoted in two or three articles is not).

Extraction (monitor/extraction.py) drops the chrome lines from the extracted text; it never
changes which part of the page is taken for the article (dropping blocks of the page before
trafilatura reads it can tip it over to a footer). Only the lines extraction outputs are keyed,
a few dozen per page, so learning costs little. Memory and storage are bounded: at most
MAX_KEYS keys per outlet (the rarest and oldest go first), and counts are halved every WINDOW
pages so that an outlet's changed layout is forgotten. The template is kept in the database
(`templates` table) so a new crawl starts from what the last one learned.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

LINK_PAGES = 1  # other pages the text of a link must be seen on to be chrome ...
SHORT_PAGES = 1  # ... a short line (not a link) ...
PROSE_PAGES = 3  # other pages a prose line must be seen on ...
PROSE_SHARE = 0.3  # ... and the share of the outlet's pages that must be at least
SHORT_WORDS = 6  # a line of fewer words is "short"
MAX_KEYS = 20_000
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
WINDOW = 500  # pages: counts are halved after this many


def line_key(text: str, linked: bool) -> int:
    """63 bits (an SQLite integer): the lowest tells a prose line (long, not a link), the next
    one a link's text.

    `text` is whitespace-collapsed; `linked`: the line is the text of a link of its page.
    """
    digest = hashlib.blake2b(f"{'a' if linked else 't'}|{text}".encode(), digest_size=8).digest()
    words = text.count(" ") + 1 + len(_CJK.findall(text))  # a CJK character is a word
    prose = not linked and words >= SHORT_WORDS
    return (int.from_bytes(digest, "big") >> 3 << 2) | (linked << 1) | prose


def _least(key: int, prose_min: float) -> float:
    """The number of pages a key must have been seen on to be chrome."""
    if key & 1:
        return prose_min
    return LINK_PAGES if key & 2 else SHORT_PAGES


class Template:
    """One outlet's recurring blocks: key -> [pages seen on, index of the last such page]."""

    def __init__(self, pages: int = 0, counts: dict[int, list[int]] | None = None):
        self.pages = pages
        self.counts: dict[int, list[int]] = counts or {}

    def observe(self, keys: Iterable[int]) -> set[int]:
        """One more page and its block keys; returns those that have just become chrome.

        (A key can also stop being chrome as the outlet's pages grow in number: `chrome()`
        recomputes the whole set.)
        """
        self.pages += 1
        prose_min = self._prose_min()
        new = set()
        for key in set(keys):
            entry = self.counts.get(key)
            if entry is None:
                self.counts[key] = entry = [0, 0]
            entry[0] += 1
            entry[1] = self.pages
            least = _least(key, prose_min)
            if entry[0] - 1 < least <= entry[0]:
                new.add(key)
        if self.pages % WINDOW == 0:
            self._halve()
        if len(self.counts) > MAX_KEYS:
            self._prune()
        return new

    def _prose_min(self) -> float:
        return max(PROSE_PAGES, PROSE_SHARE * min(self.pages, WINDOW))

    def chrome(self) -> frozenset[int]:
        """The keys that are chrome for a new page (counts are of the pages already seen)."""
        prose_min = self._prose_min()
        return frozenset(
            key for key, (count, _) in self.counts.items() if count >= _least(key, prose_min)
        )

    def _halve(self) -> None:
        for key in list(self.counts):
            entry = self.counts[key]
            entry[0] //= 2
            if entry[0] == 0:
                del self.counts[key]

    def _prune(self) -> None:
        ranked = sorted(self.counts.items(), key=lambda kv: (kv[1][0], kv[1][1]), reverse=True)
        self.counts = dict(ranked[: MAX_KEYS * 3 // 4])

    def dumps(self) -> str:
        return json.dumps({"pages": self.pages, "counts": self.counts}, separators=(",", ":"))

    @classmethod
    def loads(cls, data: str | None) -> Template:
        if not data:
            return cls()
        try:
            raw = json.loads(data)
            counts = {int(k): [int(x) for x in v] for k, v in raw["counts"].items()}
            return cls(int(raw["pages"]), counts)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls()  # an unreadable template is relearned, never fatal
