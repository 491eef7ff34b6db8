"""Extraction on saved replica pages of Orda.kz: exact fields, no chrome, charsets repaired."""

from pathlib import Path

import pytest

from monitor import extraction, outlets
from monitor.replica.orda import OrdaSite

ROOT = Path(__file__).resolve().parent.parent
PROFILE = outlets.load(ROOT / "seeds" / "outlets.yml")["orda"].extraction


@pytest.fixture(scope="module")
def site() -> OrdaSite:
    site = OrdaSite()
    site.origin = "https://orda.test"
    return site


def page(site: OrdaSite, path: str) -> tuple[bytes, str]:
    """The page as saved once the site answers 200 (the 503-then-200 page needs two asks)."""
    for _ in range(3):
        reply = site.reply("GET", path, "", {})
        if reply.status == 200:
            return reply.body, reply.headers.get("Content-Type", "")
    raise AssertionError(f"{path} never answered 200")


def stored(site: OrdaSite) -> list:
    return [a for a in site.articles if a.expect == "stored" and "301" not in a.note]


def test_every_stored_page_gives_exact_fields_and_no_chrome(site):
    for article in stored(site):
        body, content_type = page(site, article.path)
        fields = extraction.extract(body, article.url, content_type, PROFILE)
        assert fields["url"] == article.url
        assert fields["title"] == article.title
        assert fields["lead"] == article.lead
        assert fields["published"] == article.published
        assert fields["modified"] == article.modified
        assert fields["author"] == article.author
        assert fields["tags"] == article.tags
        assert fields["lang"] == article.lang, article.path
        for paragraph in article.paragraphs:
            assert paragraph in fields["text"], (article.path, paragraph[:50])
        for phrase in site.chrome_phrases:
            assert phrase not in fields["text"], (article.path, phrase)


@pytest.mark.parametrize("which", ["declared in", "no charset"])
def test_windows_1251_pages_decode_to_the_right_text(site, which):
    article = next(a for a in site.articles if "1251" in a.note and which in a.note)
    body, content_type = page(site, article.path)
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    fields = extraction.extract(body, article.url, content_type, PROFILE)
    assert fields["title"] == article.title
    assert article.paragraphs[0] in fields["text"]


def test_decode_trusts_valid_utf8_over_a_wrong_declaration():
    body = '<meta charset="windows-1251"><p>Қаңтар оқиғалары</p>'.encode()
    assert "Қаңтар оқиғалары" in extraction.decode(body, "text/html; charset=windows-1251")


def test_decode_repairs_cp1251_declared_as_latin1():
    body = "<p>Январские события в Алматы</p>".encode("cp1251")
    assert "Январские события" in extraction.decode(body, "text/html; charset=iso-8859-1")


def test_truncated_page_keeps_the_complete_paragraphs(site):
    article = next(a for a in site.articles if "truncated" in a.note)
    body, content_type = page(site, article.path)
    fields = extraction.extract(body, article.url, content_type, PROFILE)
    for paragraph in article.paragraphs:
        assert paragraph in fields["text"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"   \n ", "empty body"),
        (
            b"<html><body><div class='menu'><a href='/'>RU</a></div></body></html>",
            "no article text",
        ),
    ],
)
def test_pages_without_an_article_raise_with_a_reason(body, reason):
    with pytest.raises(extraction.ExtractionError, match=reason):
        extraction.extract(body, "https://orda.test/x-1/", "text/html", PROFILE)


def test_page_without_text_from_the_replica_is_refused(site):
    article = next(a for a in site.articles if "no article text" in a.note)
    body, content_type = page(site, article.path)
    with pytest.raises(extraction.ExtractionError):
        extraction.extract(body, article.url, content_type, PROFILE)
