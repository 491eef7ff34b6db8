"""Seeding: import the plain-text page captures in seeds/ as articles.

A capture is the text of an article page as a browser copies it, chrome and all: photo
captions ("... - Sputnik Казахстан, 1920, 08.01.2022", "Коллаж Orda.kz"), a story box,
"Подписаться", "Читайте также:" and a "Лента новостей" list of unrelated headlines. The
importer recognises the outlet, takes the title, the date where the text gives one, and the
body without the chrome, and stores the article under `seed:<file name>`, marked as a seed.
Importing is idempotent: an unchanged file changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor import db, language

# A photo caption as Sputnik pages render it: "<alt text> - Sputnik Казахстан, 1920, 08.01.2022".
_SPUTNIK_CAPTION = re.compile(
    r"\s-\s*Sputnik (Казахстан|Қазақстан),\s*\d{3,4},\s*(\d{2})\.(\d{2})\.(\d{4})\s*$"
)
_CHROME_LINE = re.compile(
    r"^(©.*|Коллаж:? .{0,40}|Фото:? .{0,80}|Подписаться|Жазылу|\d{1,3}|"
    r"Читайте также:?|Сондай-ақ оқыңыз:?)$"
)
_FEED_HEADINGS = ("Лента новостей", "Жаңалықтар легі")
_OUTLETS = (
    (re.compile(r"Sputnik Қазақстан"), "sputnik_kz"),
    (re.compile(r"Sputnik"), "sputnik_ru"),
    (re.compile(r"Orda\.kz", re.I), "orda"),
)


class SeedError(Exception):
    """A seed file that cannot be imported; the message is the reason."""


@dataclass
class SeedResult:
    path: Path
    status: str  # new, updated, unchanged, failed
    detail: str = ""
    article_id: int | None = None


# A page capture is tens of kilobytes; a bigger file is not one (a dump, a log, a mistake) and
# would be stored as one giant article.
MAX_CAPTURE_BYTES = 1024 * 1024


def read_capture(path: Path) -> str:
    """The text of a seed file; SeedError if it is empty, too large, binary or not UTF-8."""
    size = path.stat().st_size
    if size > MAX_CAPTURE_BYTES:
        raise SeedError(
            f"too large for a page capture: {size / 1024 / 1024:.1f} MB "
            f"(at most {MAX_CAPTURE_BYTES // 1024 // 1024} MB)"
        )
    data = path.read_bytes()
    if not data.strip():
        raise SeedError("empty file")
    if b"\x00" in data[:8192]:
        raise SeedError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SeedError(f"not UTF-8 (byte {exc.start}: {data[exc.start]:#04x})") from None


def parse_capture(text: str, name: str) -> dict[str, Any]:
    """Turn one page capture into article fields (SeedError if no article is found)."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]
    outlet = next((slug for pattern, slug in _OUTLETS if pattern.search(text)), "unknown")
    blocks = _blocks(lines)
    # A story box opens some pages: a captioned image, the story's name and blurb.
    if blocks and _SPUTNIK_CAPTION.search(blocks[0][0]) and len(blocks) > 1:
        blocks = blocks[1:]
    body: list[str] = []
    published = None
    for line in (ln for block in blocks for ln in block):
        if line in _FEED_HEADINGS:
            break  # the unrelated headline list closes the page
        caption = _SPUTNIK_CAPTION.search(line)
        if caption:
            published = published or f"{caption[4]}-{caption[3]}-{caption[2]}"
            continue
        if _CHROME_LINE.match(line):
            continue
        body.append(line)
    if len(body) < 2:
        raise SeedError("no article text found")
    title, paragraphs = body[0], body[1:]
    text_body = "\n".join(paragraphs)
    return {
        "url": f"seed:{name}",
        "outlet": outlet,
        "title": title,
        "lead": paragraphs[0],
        "text": text_body,
        "published": published,
        "modified": None,
        "author": None,
        "tags": [],
        "lang": language.detect(text_body),
        "source": "seed",
    }


def _blocks(lines: list[str]) -> list[list[str]]:
    """Runs of non-empty lines separated by blank lines."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def seed_files(folder: Path) -> list[Path]:
    """The page captures in a seeds folder (*.txt), in name order."""
    return sorted(p for p in folder.glob("*.txt") if p.is_file())


def import_seeds(database: Any, paths: list[Path], topics: list[Any]) -> list[SeedResult]:
    """Import each capture; a bad file is reported and the others are still imported."""
    from monitor.matching import match

    results = []
    for path in paths:
        try:
            fields = parse_capture(read_capture(path), path.name)
        except (SeedError, OSError) as exc:
            results.append(SeedResult(path, "failed", str(exc)))
            continue
        with db.writing(database):
            status, article_id = db.save_article(database, fields)
            if status != "unchanged":
                db.save_matches(database, article_id, match(topics, fields))
        results.append(SeedResult(path, status, fields["title"], article_id))
    return results
