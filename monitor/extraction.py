"""Article extraction: raw page bytes in, clean article fields out.

The page is decoded (whatever its declared charset), the outlet's known chrome is cut away
(selectors and text patterns from its registry entry), metadata is read from meta tags, JSON-LD
and the outlet's own markup, and trafilatura extracts the body text. `extract()` is a pure,
picklable function so that it can run in worker processes.

It runs once per fetched page, so it is careful with time: CSS selectors are compiled once per
process, each page is walked for its meta tags once, and trafilatura is imported only where pages
are extracted (the worker processes), not in the crawl process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import lru_cache
from typing import Any

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from monitor import dates, language, template

# Chrome lines every outlet in the region uses; an outlet entry can add its own.
COMMON_DROP_TEXT = (
    r"^(Читайте также|Читайте нас|Смотрите также|Материалы по теме)\b",
    r"^(Сондай-ақ оқыңыз|Оқи отырыңыз)\b",
    r"^Подписывайтесь на\b",
    r"^Подпишитесь на\b",
    r"^Подписаться$",
    r"^(Коллаж|Фото|Фото:|Видео|Иллюстративное фото)[:\s].{0,80}$",
    r"^(Лента новостей|Жаңалықтар легі)$",
    r"^(Поделиться|Бөлісу)\b.{0,60}$",
)

MIN_TEXT = 40  # characters: less is a menu or a caption, not an article
LINK_RUN = 3  # lines: a run of the page's links this long is a list of links, not the article
LINK_COVER = 0.6  # share of a line's characters in one link for the line to be that link
MIN_LINK = 15  # characters: shorter link texts are not looked for inside lines
TAIL_SHARE = 0.7  # share of link-list lines that makes such a run
PROSE_WORDS = 10  # a line of at least this many words ending a sentence reads as prose

# The version of this extraction code, stored with every article it produced. Raise it when a
# change here alters what is extracted; `monitor reextract` runs the current code over the
# archived pages.
EXTRACTION_VERSION = 2

# What trafilatura is asked for (favor_recall is added per page: on when the outlet's body
# selector already cut the article out). benchmarks/crawl.py times the same call as its floor.
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "with_metadata": False,
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "deduplicate": False,
}

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_-]+)""", re.I)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_WORD = re.compile(r"\w+")
_COUNTER = re.compile(r"\s*[\[(]\d+[\])]$|^\d{1,2}:\d{2}\s*")  # "[10047]", "(12)", "10:11 "
_ELLIPSIS = re.compile(r"(\.\.\.|…)\s*$")
_CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")
# Characters XML cannot hold: lxml reads them from a page but refuses to write them back (when
# removing an element joins its tail to a neighbour's), so they are removed before parsing.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class ExtractionError(Exception):
    """The page holds no storable article; the message is the reason recorded in `failures`."""


def decode(body: bytes, content_type: str | None = None) -> str:
    """Decode an HTML page, trusting the bytes over a wrong or missing charset declaration.

    Valid UTF-8 is taken as UTF-8. Otherwise the declared charset is used if it yields
    Cyrillic text, else windows-1251, the usual legacy encoding of Kazakh and Russian sites.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = None
    if content_type and "charset=" in content_type.lower():
        declared = content_type.lower().split("charset=")[-1].split(";")[0].strip(" \"'")
    if not declared:
        match = _CHARSET.search(body[:4096])
        declared = match.group(1).decode("ascii").lower() if match else None
    if declared and declared.replace("-", "") not in ("utf8",):
        try:
            text = body.decode(declared)
            if _CYRILLIC.search(text) or declared in ("windows-1251", "cp1251", "koi8-r"):
                return text
        except (LookupError, UnicodeDecodeError):
            pass
    return body.decode("cp1251", errors="replace")


def extract(
    body: bytes,
    url: str,
    content_type: str | None = None,
    profile: Mapping[str, Any] | None = None,
    *,
    chrome: Collection[int] = frozenset(),
    blocks: list[int] | None = None,
) -> dict[str, Any]:
    """Extract one article page.

    `profile` is the outlet's extraction entry: `body` (CSS selector of the article body),
    `lead`, `title`, `published`, `modified`, `author`, `tags` (CSS selectors, `::attr(x)`
    allowed), `drop` (CSS selectors of chrome to remove) and `drop_text` (regexes of chrome
    paragraphs). `chrome` is the outlet template's chrome (monitor/template.py): those lines
    of the text are dropped; if `blocks` is a list, the keys of the page's lines are added to
    it (for the template to learn from), even when the page is refused. Raises ExtractionError
    when there is no article text.
    """
    profile = profile or {}
    if not body or not body.strip():
        raise ExtractionError("empty body")
    # An XHTML page's XML declaration names the bytes' encoding, which lxml refuses in a
    # decoded string: it goes (the page is decoded already).
    html = _XML_DECLARATION.sub("", _NOT_XML.sub("", decode(body, content_type)), count=1)
    try:
        tree = lxml.html.document_fromstring(html, parser=_parser())
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unparseable HTML: {exc}") from None
    meta = _metadata(tree, profile)
    _drop_chrome(tree, profile.get("drop", ()), comments="omment" in html)
    patterns = [re.compile(p, re.I) for p in (*COMMON_DROP_TEXT, *profile.get("drop_text", ()))]
    text = _body_text(tree, url, profile.get("body"), patterns, chrome, blocks)
    title = meta["title"]
    text = _without_headline(text, title)
    if len(text) < MIN_TEXT:
        raise ExtractionError("no article text found")
    if not title:
        raise ExtractionError("no title found")
    lead = meta["lead"]
    return {
        "url": meta["canonical"] or url,
        "title": title,
        "lead": lead,
        "text": text,
        "published": meta["published"],
        "modified": meta["modified"],
        "author": meta["author"],
        "tags": meta["tags"],
        "lang": language.detect(f"{title}\n{lead or ''}\n{text}", hint=meta["html_lang"]),
    }


def _body_text(
    tree: lxml.html.HtmlElement,
    url: str,
    selector: str | None,
    patterns: list[re.Pattern],
    chrome: Collection[int] = frozenset(),
    blocks: list[int] | None = None,
) -> str:
    """trafilatura's main text of the outlet's body container (or of the whole page)."""
    import trafilatura  # here, not at the top: the crawl process itself never needs it

    links = _link_texts(tree)  # before trafilatura, which cleans the tree it is given
    source: Any = tree
    if selector:
        found = _css(selector)(tree)
        if found:
            html = "".join(etree.tostring(el, encoding="unicode") for el in found)
            source = f"<html><body><article>{html}</article></body></html>"
    doc = trafilatura.bare_extraction(
        source,
        url=url,
        favor_recall=bool(selector),
        favor_precision=not selector,
        **TRAFILATURA_OPTIONS,
    )
    raw = (doc.text if doc is not None else "") or ""
    lines = [ln.strip() for ln in raw.splitlines()]
    kept = [ln for ln in lines if ln and not any(p.search(ln) for p in patterns)]
    keys = [_line_keys(ln, links) for ln in kept]
    if blocks is not None:
        blocks.extend(key for line_keys in keys for key in line_keys)
    if chrome:
        kept = [
            ln for ln, line_keys in zip(kept, keys, strict=True) if not _chrome(line_keys, chrome)
        ]
    if not selector:
        kept = _without_teasers(_without_link_lists(kept, links))
        kept = [ln for ln in kept if not _is_layout_cell(ln)]
    return "\n".join(kept)


def _link_texts(tree: lxml.html.HtmlElement) -> set[str]:
    """The texts of the page's links, stripped (plain strings: lxml's "smart" ones cost more)."""
    texts = set(map(str.strip, _LINK_TEXTS(tree)))
    texts.update(" ".join(el.text_content().split()) for el in _XPATH["nested_links"](tree))
    texts.discard("")
    return texts


def _without_headline(text: str, title: str | None) -> str:
    """The text without its first lines when they repeat the headline (stored as the title)."""
    if not title:
        return text
    lines = text.split("\n")
    key = _words(title)
    while lines and _words(lines[0]) == key:
        lines.pop(0)
    return "\n".join(lines)


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _line_keys(line: str, links: Collection[str]) -> list[int]:
    """The template keys of a line: its own, then its cells' if it is a table row."""
    keys = [template.line_key(" ".join(line.split()), _is_link(line, links))]
    if line.startswith("|"):
        for cell in line.strip(" |").split("|"):
            cell = " ".join(cell.split())
            if any(ch.isalpha() for ch in cell):
                keys.append(template.line_key(cell, _is_link(cell, links)))
    return keys


def _chrome(keys: list[int], chrome: Collection[int]) -> bool:
    """The line is chrome: itself, or (a table row) each of its cells with letters."""
    return keys[0] in chrome or (len(keys) > 1 and all(key in chrome for key in keys[1:]))


def _without_link_lists(lines: list[str], links: Collection[str]) -> list[str]:
    """The lines without the lists of the page's links that trafilatura kept.

    Pages go on around the article with headline lists, archives and calendars; by the page's
    own markup their lines are links (with a date, a time or a counter at most). A run of at
    least LINK_RUN such lines goes wherever it is; after the article's last line that reads as
    prose, a run of at least LINK_RUN lines most of which (TAIL_SHARE) are such goes whole.
    """
    by_length = sorted((t for t in links if len(t) >= MIN_LINK), key=len, reverse=True)
    listed = [_is_listed(ln, links, by_length) for ln in lines]
    keep = [True] * len(lines)
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and listed[end]:
            end += 1
        if end - start >= LINK_RUN:
            keep[start:end] = [False] * (end - start)
        start = end + 1
    last = max((i for i, ln in enumerate(lines) if _is_prose(ln)), default=-1)
    tail = range(last + 1, len(lines))
    if last >= 0 and len(tail) >= LINK_RUN:
        if sum(listed[i] for i in tail) >= TAIL_SHARE * len(tail):
            keep[last + 1 :] = [False] * len(tail)
    return [ln for ln, kept in zip(lines, keep, strict=True) if kept]


def _without_teasers(lines: list[str]) -> list[str]:
    """The lines without runs of teasers: at least LINK_RUN lines in a row that each end cut
    short with an ellipsis are summaries of other stories (an article's paragraphs are not cut)."""
    cut = [bool(_ELLIPSIS.search(ln)) for ln in lines]
    keep = [True] * len(lines)
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and cut[end]:
            end += 1
        if end - start >= LINK_RUN:
            keep[start:end] = [False] * (end - start)
        start = end + 1
    return [ln for ln, kept in zip(lines, keep, strict=True) if kept]


def _is_layout_cell(line: str) -> bool:
    """A table row of one short cell: a layout table's menu item, heading or label."""
    if not line.startswith("|"):
        return False
    cells = [c for c in line.strip(" |").split("|") if c.strip()]
    return len(cells) <= 1 and len(_WORD.findall(line)) < template.SHORT_WORDS


def _is_listed(line: str, links: Collection[str], by_length: list[str]) -> bool:
    """A link of the page (a list item or a row of link cells too), or a line without letters."""
    if not any(ch.isalpha() for ch in line):
        return True
    if _is_link(line, links) or _mostly_link(line, by_length):
        return True
    cells = [c.strip() for c in line.strip(" |").split("|") if c.strip()]
    return len(cells) > 1 and all(
        _is_link(c, links) or not any(x.isalpha() for x in c) for c in cells
    )


def _mostly_link(line: str, by_length: list[str]) -> bool:
    """Most of the line (LINK_COVER of its characters) is one link text of the page."""
    text = " ".join(line.split())
    least = LINK_COVER * len(text)
    for link in by_length:
        if len(link) < least:
            return False
        if len(link) <= len(text) and link in text:
            return True
    return False


def _is_prose(line: str) -> bool:
    return len(_WORD.findall(line)) >= PROSE_WORDS and line.rstrip()[-1:] in '.!?…»"”)'


def _is_link(line: str, links: Collection[str]) -> bool:
    """The line is the text of a link of the page, maybe with a list marker or a counter."""
    text = " ".join(line.split()).lstrip("-*• ")
    return text in links or _COUNTER.sub("", text) in links


@lru_cache(maxsize=1)
def _parser() -> lxml.html.HTMLParser:
    """The HTML parser, without comments: trafilatura cuts a paragraph at a comment inside it
    (`no one <!-- -->ran`), as it reads a tree it is given as it is."""
    return lxml.html.HTMLParser(remove_comments=True, remove_pis=True)


@lru_cache(maxsize=512)
def _css(selector: str) -> CSSSelector:
    """A CSS selector compiled once (what `el.cssselect(selector)` compiles on every call)."""
    return CSSSelector(selector, translator="html")


# Elements that never hold article text; removed in one walk of the tree.
_NEVER_TEXT = ("script", "style", "noscript", "iframe", "template", "select")
_XPATH = {
    name: etree.XPath(path)
    for name, path in {
        "h1": "//h1",
        "title": "//title",
        "published": '//*[@itemprop="datePublished"]/@datetime'
        ' | //*[@itemprop="datePublished"]/@content',
        "time": "//time/@datetime",
        "modified": '//*[@itemprop="dateModified"]/@datetime'
        ' | //*[@itemprop="dateModified"]/@content',
        "canonical": '//link[@rel="canonical"]/@href',
        "json_ld": '//script[@type="application/ld+json"]/text()',
        "nested_links": "//a[*]",
        "commented": '//*[contains(@class, "omment") or contains(@id, "omment")'
        ' or contains(@itemtype, "/Comment") or @itemprop="comment"]',
        "comments_anchor": "//a[not(@href) and not(normalize-space())]"
        '[starts-with(translate(@name, "C", "c"), "comment")]',
        "article": 'descendant::h1 | descendant::article | descendant::*[@itemprop="articleBody"]',
    }.items()
}


_LINK_TEXTS = etree.XPath("//a[not(*)]/text()", smart_strings=False)  # most links: one text


# "comment" as a word of a class or an id: `comments`, `b-comments-item`, `vk_comments`,
# `lastComments` (not `nocomment`-like run-ins, nor a word merely beginning with it elsewhere).
_COMMENT_NAME = re.compile(r"(?:^|[^A-Za-z])[cC]omment|(?<=[a-z])Comment")


def _is_comments(el: lxml.html.HtmlElement) -> bool:
    """A reader-comment block (by its class, id or microdata) that does not hold the article."""
    if el.tag in ("html", "body", "article", "main"):
        return False
    named = any(_COMMENT_NAME.search(el.get(a) or "") for a in ("class", "id"))
    if (
        not named
        and "/Comment" not in (el.get("itemtype") or "")
        and el.get("itemprop") != "comment"
    ):
        return False
    return _holds_no_article(el)


def _holds_no_article(el: lxml.html.HtmlElement) -> bool:
    return el.tag not in ("html", "body", "article", "main") and not _XPATH["article"](el)


def _drop_chrome(
    tree: lxml.html.HtmlElement, selectors: Iterable[str], comments: bool = True
) -> None:
    # Removing an element keeps its tail text, so the order of removal does not matter for
    # these (an element inside another one removed goes with it); the outlet's own selectors,
    # which may be positional (ul:last-of-type), apply one after the other, as written.
    for el in list(tree.iter(*_NEVER_TEXT)):
        el.drop_tree()
    # Reader comments (looked for only when the page's source names them: the search of every
    # element's class and id costs as much as a fifth of the rest of the extraction).
    for el in _XPATH["commented"](tree) if comments else ():
        if _is_comments(el):
            el.drop_tree()
    # An empty <a name="comments"></a> opens the comment block: what follows it goes.
    for anchor in _XPATH["comments_anchor"](tree) if comments else ():
        for el in list(anchor.itersiblings()):
            if _holds_no_article(el):
                el.drop_tree()
    for selector in selectors:
        for el in _css(selector)(tree):
            el.drop_tree()


def _metadata(tree: lxml.html.HtmlElement, profile: Mapping[str, Any]) -> dict[str, Any]:
    ld_cache: list[dict[str, Any]] = []

    def ld() -> dict[str, Any]:
        if not ld_cache:
            ld_cache.append(_json_ld(tree))
        return ld_cache[0]

    # Every <meta> by its property and by its name, in document order: one walk of the tree.
    by_key: dict[str, list[str | None]] = {}
    tag_values: list[str | None] = []
    for el in tree.iter("meta"):
        content = el.get("content")
        prop, name = el.get("property"), el.get("name")
        for key in {prop, name} - {None}:
            by_key.setdefault(key, []).append(content)
        if prop == "article:tag":
            tag_values.append(content)

    def meta(*names: str) -> str | None:
        for name in names:
            for content in by_key.get(name, ()):
                value = (content or "").strip()
                if value:
                    return value
        return None

    def own(key: str) -> Callable[[], list[str]]:
        selector = profile.get(key)
        return lambda: _select(tree, selector) if selector else []

    title = _first(
        own("title"),
        lambda: [meta("og:title") or ""],
        lambda: [_text(el) for el in _XPATH["h1"](tree)],
        lambda: [ld().get("headline") or ""],
        lambda: [_text(el) for el in _XPATH["title"](tree)],
    )
    lead = _first(own("lead"), lambda: [meta("description", "og:description") or ""])
    published = _first_date(
        own("published"),
        lambda: [meta("article:published_time") or ""],
        lambda: [ld().get("datePublished") or ""],
        lambda: _XPATH["published"](tree),
        lambda: _XPATH["time"](tree),
    )
    modified = _first_date(
        own("modified"),
        lambda: [meta("article:modified_time") or ""],
        lambda: [ld().get("dateModified") or ""],
        lambda: _XPATH["modified"](tree),
    )
    author = _first(own("author"), lambda: [meta("author") or ""], lambda: [_ld_author(ld())])
    tags = own("tags")() or [
        content.strip() for content in tag_values if content and content.strip()
    ]
    if not tags and meta("keywords"):
        tags = [t.strip() for t in meta("keywords").split(",") if t.strip()]
    canonical = _XPATH["canonical"](tree)
    canonical_url = canonical[0].strip() if canonical else None
    if canonical_url and not canonical_url.startswith(("http://", "https://")):
        canonical_url = None
    return {
        "title": title,
        "lead": lead,
        "published": published,
        "modified": modified if modified != published else None,
        "author": author,
        "tags": list(dict.fromkeys(tags)),
        "canonical": canonical_url,
        "html_lang": (tree.get("lang") or "").strip() or None,
    }


def _select(tree: lxml.html.HtmlElement, selector: str) -> list[str]:
    """CSS selector with an optional `::attr(name)` suffix, parsel style."""
    attr = None
    match = re.search(r"::attr\(([\w:-]+)\)$", selector)
    if match:
        attr = match.group(1)
        selector = selector[: match.start()]
    values = []
    for el in _css(selector)(tree):
        value = el.get(attr) if attr else _text(el)
        if value and value.strip():
            values.append(value.strip())
    return values


def _text(el: lxml.html.HtmlElement) -> str:
    return " ".join(el.text_content().split())


def _first(*candidates: Callable[[], Iterable[str]]) -> str | None:
    """The first non-blank value, whitespace collapsed; later groups are not even computed."""
    for group in candidates:
        for value in group():
            value = " ".join((value or "").split())
            if value:
                return value
    return None


def _first_date(*candidates: Callable[[], Iterable[str]]) -> str | None:
    for group in candidates:
        for value in group():
            parsed = dates.normalize(value)
            if parsed:
                return parsed
    return None


def _json_ld(tree: lxml.html.HtmlElement) -> dict[str, Any]:
    """The first JSON-LD object that looks like an article."""
    for script in _XPATH["json_ld"](tree):
        try:
            data = json.loads(script)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if "datePublished" in item or "headline" in item:
                    return item
                stack.extend(v for v in item.values() if isinstance(v, list | dict))
    return {}


def _ld_author(ld: Mapping[str, Any]) -> str:
    author = ld.get("author")
    if isinstance(author, list):
        author = author[0] if author else None
    if isinstance(author, dict):
        author = author.get("name")
    return author if isinstance(author, str) else ""
