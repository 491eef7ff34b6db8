"""The outlet template: the blocks an outlet repeats on many of its pages, learned as it is crawled.

A crawler sees hundreds of pages of each outlet; a block of text that recurs across many of
them (menus, footers, "read also" boxes, subscription lines, the same sidebar headlines) is the
outlet's chrome whatever its markup. Each page's blocks are keyed by their markup context and
text: the block's tag, whether it is mostly link text, and its whitespace-collapsed text (a
64-bit hash of these). `Template` counts, per key, the distinct pages it was seen on; a key
becomes chrome once

- a link-dense or short block (a headline in a list, "Share", a byline) was seen on at least
  LINK_PAGES other pages;
- a prose block was seen on at least PROSE_PAGES other pages and on at least PROSE_SHARE of
  them (the outlet's standard legal line is; a sentence quoted in two or three articles is not).

Extraction (monitor/extraction.py) drops from the extracted text the lines that are the text of
a chrome block of the same page. Memory and storage are bounded: at most MAX_KEYS keys per
outlet (the rarest and oldest go first), and counts are halved every WINDOW pages so that an
outlet's changed layout is forgotten. The template is kept in the database (`templates` table)
so a new crawl starts from what the last one learned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from typing import Any, NamedTuple

import lxml.html

LINK_PAGES = 2  # other pages a link-dense or short block must be seen on to be chrome
PROSE_PAGES = 3  # other pages a prose block must be seen on ...
PROSE_SHARE = 0.3  # ... and the share of the outlet's pages that must be at least
SHORT_WORDS = 6  # a block of fewer words is "short"
MAX_TEXT = 600  # characters: a longer block is article text or a whole container, not keyed
MAX_KEYS = 20_000
WINDOW = 500  # pages: counts are halved after this many

# Elements that form a block of a page (inline elements are part of their block's text).
BLOCK_TAGS = frozenset(
    "p div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 td th tr table tbody section aside nav header "
    "footer figure figcaption blockquote form center address article main span a".split()
)
# Inline elements counted as blocks only when they stand alone (not inside running text).
_INLINE_BLOCKS = frozenset(("span", "a"))


def _key(tag: str, link_dense: bool, text: str) -> int:
    """63 bits (an SQLite integer) whose lowest bit tells a prose block (long, not links)."""
    digest = hashlib.blake2b(
        f"{tag}|{'a' if link_dense else 't'}|{text}".encode(), digest_size=8
    ).digest()
    prose = not link_dense and not _short(text)
    return (int.from_bytes(digest, "big") >> 2 << 1) | prose


def is_prose(key: int) -> bool:
    return bool(key & 1)


def _short(text: str) -> bool:
    return text.count(" ") + 1 < SHORT_WORDS


def blocks(tree: lxml.html.HtmlElement) -> tuple[dict[int, str], set[str]]:
    """The keyed blocks of a page: key -> its text (blocks of at most MAX_TEXT characters), and
    the texts of its link-dense blocks (more than half of the text in links).

    One bottom-up walk: each element's text is built from its children's (cut off beyond
    MAX_TEXT), with the share of it inside links.
    """
    found: dict[int, str] = {}
    links: set[str] = set()
    memo: dict[Any, tuple[str | None, int]] = {}  # element -> (text or None if long, link chars)
    for el in _postorder(tree):
        tag = el.tag if isinstance(el.tag, str) else ""
        parts = [el.text or ""]
        link = 0
        long_ = False
        for child in el:
            text, child_link = memo.pop(child, ("", 0))
            if text is None:
                long_ = True
            else:
                parts.append(text)
                link += child_link
            parts.append(child.tail or "")
        raw = "" if long_ else " ".join(" ".join(parts).split())
        if long_ or len(raw) > MAX_TEXT:
            memo[el] = (None, 0)
            continue
        if tag == "a":
            link = len(raw)
        memo[el] = (raw, link)
        if not raw or tag not in BLOCK_TAGS:
            continue
        if tag in _INLINE_BLOCKS and _in_running_text(el):
            continue
        dense = link * 2 > len(raw)
        found[_key(tag, dense, raw)] = raw
        if dense:
            links.add(raw)
    return found, links


def _postorder(tree: lxml.html.HtmlElement) -> Iterable[Any]:
    stack = [(tree, False)]
    while stack:
        el, done = stack.pop()
        if done:
            yield el
            continue
        stack.append((el, True))
        stack.extend((child, False) for child in reversed(el))


def _in_running_text(el: Any) -> bool:
    """An inline element with text around it inside its parent (a link in a sentence)."""
    parent = el.getparent()
    if parent is None:
        return False
    if (el.tail or "").strip():
        return True
    prev = el.getprevious()
    before = prev.tail if prev is not None else parent.text
    return bool((before or "").strip())


class PageBlocks(NamedTuple):
    keys: list[int]  # every block key of the page, for the template to learn
    chrome: set[str]  # the texts of its blocks that are the template's chrome
    links: set[str]  # the texts of its link-dense blocks


def page_blocks(tree: lxml.html.HtmlElement, chrome: Collection[int]) -> PageBlocks:
    """The page's blocks: their keys, the texts of the chrome ones and of the link-dense ones.

    The page itself is left as it is: extraction drops the lines of the extracted text that are
    chrome texts, so the template never changes which part of the page is taken for the article
    (dropping blocks before trafilatura can tip it over to a footer), and a line of the article
    goes only if it is, on this very page, a block that recurs on the outlet's other pages.
    """
    found, links = blocks(tree)
    texts = {text for key, text in found.items() if key in chrome} if chrome else set()
    return PageBlocks(list(found), texts, links)


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
            least = prose_min if key & 1 else LINK_PAGES
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
            key
            for key, (count, _) in self.counts.items()
            if count >= (prose_min if key & 1 else LINK_PAGES)
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
