"""The outlet template on replica pages: chrome learned from an outlet's pages and dropped from
its articles, every article paragraph kept, and the template kept between crawls."""

from __future__ import annotations

import sqlite_utils

from monitor import extraction, template
from monitor.replica.generic import GenericSite
from monitor.replica.server import ReplicaServer
from monitor.template import Template
from tests.conftest import SINCE, expected_articles, scrapy_crawl

# The outlet's standard line inside the article body, on every page (invented for the test).
LEGAL = (
    "Любое использование материалов допускается только с письменного разрешения редакции "
    "и с прямой ссылкой на источник."
)
# A sentence two articles quote: article text, not chrome.
QUOTE = (
    "«Мы продолжим работу вместе с жителями и отчитаемся о каждом этапе», — сказали "
    "в пресс-службе городского акимата."
)
BODY_END = '</div><div class="tags">'


class LegalSite(GenericSite):
    """The generic replica with the outlet's legal line at the end of every article body, and
    one quoted sentence in its first two articles."""

    def _article_page(self, page) -> str:
        html = super()._article_page(page)
        extra = f"<p>{LEGAL}</p>"
        if page.article.id in {a.id for a in self.articles[:2]}:
            extra = f"<p>{QUOTE}</p>{extra}"
        return html.replace(BODY_END, extra + BODY_END, 1)


def pages(site: GenericSite) -> list[tuple[object, bytes]]:
    site.origin = "https://tengrinews.test"
    out = []
    for article in site.articles:
        reply = site.reply("GET", article.path, "", {})
        assert reply.status == 200, article.path
        out.append((article, reply.body))
    return out


def test_the_legal_line_is_learned_and_dropped_and_every_paragraph_kept():
    site = LegalSite()
    quoted = {a.id for a in site.articles[:2]}
    learned = Template()
    seen = 0
    for article, body in pages(site):
        plain = extraction.extract(body, site.origin + article.path)["text"]
        blocks: list[int] = []
        text = extraction.extract(
            body, site.origin + article.path, chrome=learned.chrome(), blocks=blocks
        )["text"]
        lines = text.split("\n")
        assert LEGAL in plain.split("\n")  # the generic path alone keeps it
        # Every paragraph of the article is kept, the quoted sentence too.
        assert [ln for ln in lines if ln in article.paragraphs] == article.paragraphs
        assert (QUOTE in lines) == (article.id in quoted)
        # Once seen on enough of the outlet's pages, the legal line goes.
        if seen >= template.PROSE_PAGES:
            assert LEGAL not in text, article.path
        else:
            assert LEGAL in lines
        learned.observe(blocks)
        seen += 1
    chrome = learned.chrome()
    assert template.line_key(LEGAL, linked=False) in chrome
    assert template.line_key(QUOTE, linked=False) not in chrome  # seen on two pages only
    assert not any(
        template.line_key(p, linked=False) in chrome for a in site.articles for p in a.paragraphs
    )


def test_the_template_round_trips_and_stays_bounded():
    learned = Template()
    for n in range(template.MAX_KEYS // 50 + 10):
        learned.observe([7 << 1, 9 << 1, *range(n * 100 << 1, (n * 100 + 100) << 1, 2)])
    assert len(learned.counts) <= template.MAX_KEYS
    assert {7 << 1, 9 << 1} <= learned.chrome()
    again = Template.loads(learned.dumps())
    assert (again.pages, again.counts, again.chrome()) == (
        learned.pages,
        learned.counts,
        learned.chrome(),
    )
    assert Template.loads("not json").pages == 0  # relearned, never fatal


def test_a_crawl_keeps_the_template_and_the_next_crawl_starts_from_it(db_path):
    with ReplicaServer(LegalSite()) as server:
        site = server.site

        def crawl() -> None:
            result = scrapy_crawl(
                "news", db_path, "outlet=tengrinews", f"base_url={server.origin}", f"since={SINCE}"
            )
            assert result.returncode == 0, result.stderr[-4000:]

        crawl()
        expected = expected_articles(site)
        database = sqlite_utils.Database(db_path)
        (row,) = database["templates"].rows
        assert (row["outlet"], row["pages"]) == ("tengrinews", len(expected))
        stored = Template.loads(row["data"])
        assert stored.pages == len(expected)

        article = expected[-1]
        site.edit_article(
            article.id,
            add_paragraph="Позже в акимате уточнили сроки второго этапа работ.",
            modified="2022-03-02T09:00:00+06:00",
        )
        crawl()
        text = database.execute(
            "SELECT text FROM articles WHERE url = ?", [site.origin + article.path]
        ).fetchone()[0]
        lines = text.split("\n")
        assert LEGAL not in text  # the second crawl started from the stored template
        assert lines[-1] == "Позже в акимате уточнили сроки второго этапа работ."
        assert [ln for ln in lines if ln in article.paragraphs] == article.paragraphs
        (row,) = database["templates"].rows
        assert row["pages"] == len(expected) + 1


def test_what_one_other_page_makes_chrome_and_what_it_does_not():
    byline = template.line_key("Фото: пресс-служба", linked=False)
    headline = template.line_key("В Балхаше прошел фестиваль народных ремесел", linked=True)
    sentence = template.line_key(QUOTE, linked=False)
    unspaced = template.line_key(
        "抗议者在市中心聚集要求政府公开预算并回应居民关于供暖的诉求", linked=False
    )
    learned = Template()
    learned.observe([byline, headline, sentence, unspaced])
    chrome = learned.chrome()
    assert byline in chrome and headline in chrome
    assert sentence not in chrome and unspaced not in chrome  # prose needs PROSE_PAGES pages
