"""A loopback replica of Sputnik Kazakhstan: ru.sputnik.kz (edition "ru") and sputnik.kz ("kz").

Built from the platform notes in research/outlets.md, section 2 (Rossiya Segodnya sites):

- /robots.txt: RIA's template (print pages, /search/ and every URL with a query below a folder
  disallowed) plus `Sitemap: {origin}/sitemap_article_index.xml`;
- /export/rss2/archive/index.xml: RSS 2.0 with RIA's field set (title, link, guid, pubDate in
  RFC 822 with +0600, category, rian:priority, rian:type) plus description and enclosure, the 15
  newest items;
- /sitemap_article_index.xml: monthly children `/sitemap_article.xml?date_start=YYYYMM01&amp;
  date_end=YYYYMMDD`, newest first (Nov 2021 - Feb 2022); /sitemap_article.xml answers any
  date_start/date_end with the urlset (loc + lastmod) of the articles published in that range;
- /news/: 10 `.list__item`s and `div.list__more[data-url]`; /services/news/more.html?id=&date=
  answers `.list__item` fragments with `div.list-items-loaded[data-next-url]` until the archive
  (back to November 2021) runs out;
- /services/widget/lenta/: the "Лента новостей" / "Жаңалықтар легі" widget;
- /YYYYMMDD/slug-ID.html: the article skeleton of outlets.md 2.6 (`<div class="article ">` with
  the trailing space, compact article:published_time, data-unixtime dates, the "(обновлено: ...)"
  span, text/article/quote/banner/media blocks, b-inject, Telegram block, tags, Google News,
  footer) inside header, menu, sidebar and footer chrome; /YYYYMMDD/slug-ID-print.html is the
  print version linked from every article footer.

Edge cases in each edition: a sitemap entry that answers 404, a page that answers 503 once, a
feed link with ?utm_source=rss, the print variants, and `edit_article()`, which changes a page
and bumps its sitemap lastmod and its "(обновлено: ...)" span.

Ground truth: `site.articles` (ReplicaArticle, as in the Orda replica), `site.chrome_phrases`,
`site.article_path_regex`, `site.listing_pages()`.

    with ReplicaServer(SputnikSite(edition="kz")) as server:
        ...
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs

from monitor.replica.server import Reply, Site
from monitor.replica.sputnik_texts import (
    KZ,
    KZ_INSERTS,
    KZ_SIDEBAR,
    RU,
    RU_INSERTS,
    RU_SIDEBAR,
    Text,
)

KZ_TIME = timezone(timedelta(hours=6))  # Almaty time before the 2024 switch to UTC+5
LISTING_FIRST_PAGE = 10
LISTING_MORE_PAGE = 4
FEED_ITEMS = 15
# Months the article sitemap index covers, newest first.
SITEMAP_MONTHS = [(2022, 2), (2022, 1), (2021, 12), (2021, 11)]

PLATFORM_ROBOTS = """User-agent: *
Disallow: *-print.html$
Disallow: /sys_*
Disallow: /search/
Disallow: /*/?*
Disallow: /*/*?*
Allow:    /*?page=*

Sitemap: {origin}/sitemap_article_index.xml
"""
# The same without the two query rules: what the spider meets if sputnik.kz's robots.txt (never
# seen, see outlets.md 2.4) does not carry RIA's `/*/*?*`, which forbids the "load more" URLs.
OPEN_ROBOTS = """User-agent: *
Disallow: *-print.html$
Disallow: /sys_*
Disallow: /search/
Allow:    /*?page=*

Sitemap: {origin}/sitemap_article_index.xml
"""

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh sch - y - e yu ya "
        "a g k n o u u h i".split(),
        strict=True,
    )
)


@dataclass
class ReplicaArticle:
    """Ground truth for one article page, as the crawler should store it."""

    id: int
    url: str  # origin + path, filled in when the server assigns the origin
    path: str
    title: str
    lead: str
    paragraphs: list[str]  # every text block and quote of the body, the dateline included
    published: str  # ISO 8601 with the offset, e.g. "2022-01-08T10:30:00+06:00"
    modified: str | None
    author: str | None
    tags: list[str]
    lang: str  # "ru" or "kk"
    topic: str | None  # "qantar" for the January 2022 events
    expect: str = "stored"  # or "failure"
    note: str = ""


@dataclass(frozen=True)
class Edition:
    key: str
    lang: str
    name: str
    texts: list[Text]
    sidebar: list[str]
    inserts: list[tuple[str, str]]
    months: tuple[str, ...]  # dateline abbreviations, January first
    dash: str
    updated: str  # "(обновлено: ...)"
    read_also: str
    telegram: str
    google_news: str
    lenta: str
    all_news: str
    more: str
    menu: tuple[str, ...]
    footer: tuple[str, ...]
    banner: str
    inject: tuple[str, str]
    print_label: str
    share: str
    tags_label: str
    id_offset: int


EDITIONS = {
    "ru": Edition(
        key="ru",
        lang="ru",
        name="Sputnik Казахстан",
        texts=RU,
        sidebar=RU_SIDEBAR,
        inserts=RU_INSERTS,
        months=("янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"),
        dash="—",
        updated="обновлено",
        read_also="Читайте также",
        telegram="Подписывайтесь на Sputnik Казахстан в Telegram",
        google_news="Добавьте Sputnik Казахстан в избранные источники Google News",
        lenta="Лента новостей",
        all_news="Все новости",
        more="Загрузить еще",
        menu=(
            "Политика",
            "Экономика",
            "Общество",
            "Происшествия",
            "В мире",
            "Спорт",
            "Мультимедиа",
        ),
        footer=(
            "Сетевое издание Sputnik Казахстан зарегистрировано в Министерстве информации",
            "Все права защищены",
            "Политика конфиденциальности",
            "Правила использования материалов",
        ),
        banner="Реклама партнера",
        inject=("Мультимедиа", "Фотогалерея: зимняя столица с высоты птичьего полета"),
        print_label="Версия для печати",
        share="Поделиться",
        tags_label="Теги",
        id_offset=0,
    ),
    "kz": Edition(
        key="kz",
        lang="kk",
        name="Sputnik Қазақстан",
        texts=KZ,
        sidebar=KZ_SIDEBAR,
        inserts=KZ_INSERTS,
        months=("қаң", "ақп", "нау", "сәу", "мам", "мау", "шіл", "там", "қыр", "қаз", "қар", "жел"),
        dash="–",
        updated="жаңартылды",
        read_also="Сондай-ақ оқыңыз",
        telegram="Sputnik Қазақстан Telegram-арнасына жазылыңыз",
        google_news="Sputnik Қазақстанды Google News-тегі таңдаулы дереккөздерге қосыңыз",
        lenta="Жаңалықтар легі",
        all_news="Барлық жаңалықтар",
        more="Тағы жүктеу",
        menu=("Саясат", "Экономика", "Қоғам", "Оқиғалар", "Әлем", "Спорт", "Мультимедиа"),
        footer=(
            "Sputnik Қазақстан желілік басылымы Ақпарат министрлігінде тіркелген",
            "Барлық құқықтар қорғалған",
            "Құпиялылық саясаты",
            "Материалдарды пайдалану ережелері",
        ),
        banner="Серіктес жарнамасы",
        inject=("Мультимедиа", "Фотогалерея: қысқы елорда құс ұшар биіктен"),
        print_label="Басып шығаруға арналған нұсқа",
        share="Бөлісу",
        tags_label="Тегтер",
        id_offset=2_417,
    ),
}


def translit(text: str) -> str:
    """A URL slug as the platform writes it (х→kh, я→ya, ц→ts; Kazakh letters to Latin)."""
    out = []
    for char in text.lower():
        if char in _TRANSLIT:
            out.append("" if _TRANSLIT[char] == "-" else _TRANSLIT[char])
        elif char.isascii() and char.isalnum():
            out.append(char)
        else:
            out.append(" ")
    words = "".join(out).split()
    return "-".join(words[:7])


def compact(dt: datetime) -> str:
    """The platform's article:published_time form, e.g. 20220108T1030+0600."""
    return dt.strftime("%Y%m%dT%H%M%z")


def month_end(first: date) -> date:
    """The last day of the month that starts on `first`."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def iso(dt: datetime) -> str:
    return dt.isoformat()


def local(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=KZ_TIME)


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=KZ_TIME)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


@dataclass
class _Page:
    """What the server renders for one article; edit_article() changes it."""

    text: Text
    index: int
    published: datetime
    modified: datetime | None
    title: str
    body: list[str]
    article: ReplicaArticle
    added: list[str] = field(default_factory=list)


class SputnikSite(Site):
    """The replica of one Sputnik Kazakhstan edition ("ru" or "kz")."""

    article_path_regex = r"^/\d{8}/[a-z0-9-]+-\d+\.html$"

    def __init__(self, edition: str = "ru", robots: str = "platform"):
        if edition not in EDITIONS:
            raise ValueError(f"edition must be one of {sorted(EDITIONS)}")
        if robots not in ("platform", "open"):
            raise ValueError("robots must be 'platform' or 'open'")
        self.edition = EDITIONS[edition]
        self.robots = PLATFORM_ROBOTS if robots == "platform" else OPEN_ROBOTS
        self._pages: dict[str, _Page] = {}  # by path
        self._by_id: dict[int, _Page] = {}
        self.failed_once: set[str] = set()  # paths of "503" pages already answered 503
        for index, text in enumerate(self.edition.texts):
            self._add(index, text)
        self.articles = [page.article for page in self._pages.values()]
        # Pages that answer 503 to their first request (and 200 after).
        self.flaky_paths = {path for path, page in self._pages.items() if page.text.role == "503"}
        self.chrome_phrases = self._chrome_phrases()
        for article in self.articles:
            for phrase in self.chrome_phrases:
                seen = [article.title, article.lead or "", *article.paragraphs]
                assert not any(phrase in part for part in seen), (phrase, article.path)

    # -- ground truth ------------------------------------------------------------------------

    def _add(self, index: int, text: Text) -> None:
        published = local(text.when)
        minutes = (published - datetime(2021, 11, 1, tzinfo=KZ_TIME)).total_seconds() / 60
        article_id = 18_700_000 + int(minutes * 5.5) + self.edition.id_offset
        path = f"/{published:%Y%m%d}/{translit(text.title)}-{article_id}.html"
        modified = local(text.modified) if text.modified else None
        article = ReplicaArticle(
            id=article_id,
            url=path,
            path=path,
            title=text.title,
            lead=text.lead,
            paragraphs=[],
            published=iso(published),
            modified=iso(modified) if modified else None,
            author=None,
            tags=list(text.tags),
            lang=self.edition.lang,
            topic=text.topic,
            expect="failure" if text.role == "404" else "stored",
            note=text.note,
        )
        page = _Page(text, index, published, modified, text.title, list(text.body), article)
        article.paragraphs = self._paragraphs(page)
        self._pages[path] = page
        self._by_id[article_id] = page

    def _dateline(self, page: _Page) -> str:
        month = self.edition.months[page.published.month - 1]
        return f"{page.text.city}, {page.published.day} {month} {self.edition.dash} Sputnik."

    def _paragraphs(self, page: _Page) -> list[str]:
        body = [f"{self._dateline(page)} {page.body[0]}", *page.body[1:], *page.added]
        if page.text.quote:
            quote, _, after = page.text.quote
            body.insert(after, quote)
        return body

    def _chrome_phrases(self) -> list[str]:
        ed = self.edition
        phrases = [
            ed.telegram,
            ed.google_news,
            ed.lenta,
            ed.read_also,
            ed.all_news,
            ed.more,
            ed.banner,
            ed.inject[1],
            ed.print_label,
            f"({ed.updated}:",
            "© Sputnik",
            "Мультимедиа",
            *ed.footer,
            *ed.sidebar,
        ]
        for title, desc in ed.inserts:
            phrases += [title, desc]
        return phrases

    def edit_article(
        self,
        article_id: int,
        *,
        title: str | None = None,
        add_paragraph: str | None = None,
        modified: str,
    ) -> ReplicaArticle:
        """Change an article as an editor would: the page, its modified dates, its lastmod."""
        page = self._by_id[article_id]
        if title is not None:
            page.title = title
            page.article.title = title
        if add_paragraph is not None:
            page.added.append(add_paragraph)
        page.modified = parse_iso(modified)
        page.article.modified = iso(page.modified)
        page.article.paragraphs = self._paragraphs(page)
        return page.article

    def listing_pages(self) -> list[list[ReplicaArticle]]:
        """The /news/ page and then each "load more" fragment, as lists of articles."""
        items = [page.article for page in self._listed()]
        pages = [items[:LISTING_FIRST_PAGE]]
        rest = items[LISTING_FIRST_PAGE:]
        while rest:
            pages.append(rest[:LISTING_MORE_PAGE])
            rest = rest[LISTING_MORE_PAGE:]
        return pages

    def _newest_first(self) -> list[_Page]:
        return sorted(self._pages.values(), key=lambda p: (p.published, p.article.id), reverse=True)

    def _listed(self) -> list[_Page]:
        """Pages in the /news/ listing and the feed: every live article, newest first."""
        return [p for p in self._newest_first() if p.text.role != "404"]

    # -- serving -----------------------------------------------------------------------------

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        if path == "/robots.txt":
            return _text(self.robots.format(origin=self.origin), "text/plain; charset=utf-8")
        if path == "/export/rss2/archive/index.xml":
            return _text(self._feed(), "application/rss+xml; charset=utf-8")
        if path == "/sitemap_article_index.xml":
            return _text(self._sitemap_index(), "application/xml; charset=utf-8")
        if path == "/sitemap_article.xml":
            return self._sitemap(query)
        if path == "/news/":
            return _html(self._news_page())
        if path == "/services/news/more.html":
            return self._more(query)
        if path == "/services/widget/lenta/":
            return _html(self._lenta())
        if path == "/":
            return _html(self._home())
        if path.endswith("-print.html"):
            page = self._pages.get(path.removesuffix("-print.html") + ".html")
            if page is not None and page.text.role != "404":
                return _html(self._print_page(page))
        page = self._pages.get(path)
        if page is None or page.text.role == "404":
            return Reply(404, self._not_found().encode(), {"Content-Type": "text/html"})
        if page.text.role == "503" and path not in self.failed_once:
            self.failed_once.add(path)
            return Reply(
                503,
                b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                {"Content-Type": "text/html", "Retry-After": "1"},
            )
        return _html(self._article_page(page))

    # feed and sitemaps

    def _feed(self) -> str:
        ed = self.edition
        category = ed.lenta
        items = []
        for page in self._listed()[:FEED_ITEMS]:
            article = page.article
            link = self.origin + article.path
            if page.text.role == "utm":
                link += "?utm_source=rss"
            image = self._image(page)
            items.append(
                "<item>"
                f"<title>{_e(page.title)}</title>"
                f"<link>{_e(link)}</link>"
                f"<guid>{_e(self.origin + article.path)}</guid>"
                f"<pubDate>{format_datetime(page.published)}</pubDate>"
                f"<category>{_e(category)}</category>"
                '<rian:priority xmlns:rian="http://rian.ru/ns">3</rian:priority>'
                '<rian:type xmlns:rian="http://rian.ru/ns">article</rian:type>'
                f"<description>{_e(page.text.lead)}</description>"
                f'<enclosure url="{_e(image)}" type="image/jpeg" length="0"/>'
                "</item>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0"><channel>'
            f"<title>{_e(ed.name)}</title><link>{self.origin}/</link>"
            f"<description>{_e(ed.name)}</description><language>{ed.lang}</language>"
            f"<copyright>© Sputnik</copyright>{''.join(items)}</channel></rss>\n"
        )

    def _sitemap_months(self) -> list[tuple[date, date]]:
        """First and last day of each month the sitemap index lists, newest first."""
        months = []
        for year, month in SITEMAP_MONTHS:
            first = date(year, month, 1)
            months.append((first, month_end(first)))
        return months

    def _sitemap_index(self) -> str:
        entries = []
        for first, last in self._sitemap_months():
            loc = (
                f"{self.origin}/sitemap_article.xml"
                f"?date_start={first:%Y%m%d}&date_end={last:%Y%m%d}"
            )
            entries.append(f"<sitemap><loc>{_e(loc)}</loc></sitemap>")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{''.join(entries)}</sitemapindex>\n"
        )

    def _published_between(self, start: date, end: date) -> list[_Page]:
        """The pages published from `start` to `end` (dates, both included), newest first."""
        return [p for p in self._newest_first() if start <= p.published.date() <= end]

    def _sitemap(self, query: str) -> Reply:
        params = parse_qs(query)
        try:
            start = datetime.strptime(params["date_start"][0], "%Y%m%d").date()
            end = datetime.strptime(params["date_end"][0], "%Y%m%d").date()
        except (KeyError, ValueError):
            return Reply(400, b"bad date range", {"Content-Type": "text/plain"})
        urls = []
        for page in self._published_between(start, end):
            lastmod = page.modified or page.published
            urls.append(
                f"<url><loc>{_e(self.origin + page.article.path)}</loc>"
                f"<lastmod>{iso(lastmod)}</lastmod></url>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{''.join(urls)}</urlset>\n"
        )
        return _text(body, "application/xml; charset=utf-8")

    # listing

    def _list_item(self, page: _Page) -> str:
        title = _e(page.title)
        path = page.article.path
        tags = "".join(
            f'<a class="list__tag" href="/keyword_{translit(tag)}/">'
            f'<span class="list__tag-text">{_e(tag)}</span></a>'
            for tag in page.text.tags[:2]
        )
        return (
            '<div class="list__item">'
            '<div class="list__content">'
            f'<a href="{path}" class="list__image" title="{title}">'
            f'<img src="{_e(self._image(page))}" alt="{title}"></a>'
            f'<a href="{path}" class="list__title" title="{title}">{title}</a>'
            "</div>"
            '<div class="list__info">'
            f'<div class="list__date" data-unixtime="{int(page.published.timestamp())}">'
            f"{page.published:%H:%M}</div>"
            f'<div class="list__views"><span class="list__views-count">{page.index * 37 + 120}'
            "</span></div>"
            "</div>"
            f'<div class="list__tags">{tags}</div>'
            "</div>"
        )

    def _more_url(self, page: _Page) -> str:
        return (
            f"/services/news/more.html?id={page.article.id}"
            f"&date={page.published:%Y%m%dT%H%M%S}&onedayonly=1&articlemask=lenta"
        )

    def _news_page(self) -> str:
        listed = self._listed()
        shown = listed[:LISTING_FIRST_PAGE]
        more = ""
        if len(listed) > len(shown):
            more = (
                f'<div class="list__more" data-url="{_e(self._more_url(shown[-1]))}">'
                f"<span>{_e(self.edition.more)}</span></div>"
            )
        items = "".join(self._list_item(p) for p in shown)
        main = (
            f'<h1 class="rubric-title">{_e(self.edition.all_news)}</h1>'
            f'<div class="list list-tags" data-type="lenta">{items}</div>{more}'
        )
        return self._layout(self.edition.all_news, main, head="")

    def _more(self, query: str) -> Reply:
        params = parse_qs(query)
        try:
            after_id = int(params["id"][0])
            after = datetime.strptime(params["date"][0], "%Y%m%dT%H%M%S").replace(tzinfo=KZ_TIME)
        except (KeyError, ValueError):
            return Reply(400, b"bad request", {"Content-Type": "text/plain"})
        older = [p for p in self._listed() if (p.published, p.article.id) < (after, after_id)]
        shown = older[:LISTING_MORE_PAGE]
        loaded = ""
        if len(older) > len(shown):
            loaded = (
                f'<div class="list-items-loaded" data-next-url="{_e(self._more_url(shown[-1]))}">'
                "</div>"
            )
        return _html("".join(self._list_item(p) for p in shown) + loaded)

    def _lenta(self) -> str:
        items = []
        for n, headline in enumerate(self.edition.sidebar):
            when = datetime(2022, 2, 25, 18, 0, tzinfo=KZ_TIME) - timedelta(minutes=47 * n)
            fake_id = 19_700_000 + 311 * n + self.edition.id_offset
            href = f"/{when:%Y%m%d}/{translit(headline)}-{fake_id}.html"
            items.append(
                '<div class="lenta__item">'
                f'<a class="lenta__item-size" href="{href}">'
                f'<span class="lenta__item-date" data-unixtime="{int(when.timestamp())}">'
                f"{when:%H:%M}</span>"
                f'<span class="lenta__item-text">{_e(headline)}</span></a></div>'
            )
        return (
            f'<div class="lenta"><div class="lenta__title">{_e(self.edition.lenta)}</div>'
            f'{"".join(items)}<a class="lenta__all" href="/news/">{_e(self.edition.all_news)}</a>'
            "</div>"
        )

    def _home(self) -> str:
        cells = "".join(
            f'<div class="cell-list__item"><a class="cell-list__item-link" '
            f'href="{p.article.path}"><span class="cell-list__item-title">{_e(p.title)}</span>'
            "</a></div>"
            for p in self._listed()[:6]
        )
        return self._layout(self.edition.name, f'<div class="cell-list">{cells}</div>', head="")

    def _not_found(self) -> str:
        return self._layout("404", '<div class="error">404</div>', head="")

    # article

    def _image(self, page: _Page) -> str:
        digest = hashlib.md5(page.article.path.encode()).hexdigest()
        p = page.published
        return (
            f"{self.origin}/img/{p.year:04x}/{p.month:02x}/{p.day:02x}/"
            f"{page.article.id - 1234}_0:0:1280:720_1920x0_80_0_0_{digest}.jpg"
        )

    def _article_page(self, page: _Page) -> str:
        ed = self.edition
        text = page.text
        article = page.article
        url = self.origin + article.path
        pub, mod = page.published, page.modified
        image = self._image(page)
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "mainEntityOfPage": {"@type": "WebPage", "@id": url},
            "url": url,
            "headline": page.title,
            "name": page.title,
            "description": text.lead,
            "datePublished": iso(pub),
            "image": [image],
            "articleSection": text.rubric,
            "keywords": ", ".join(text.tags),
            "inLanguage": ed.lang,
            "publisher": {
                "@type": "Organization",
                "name": ed.name,
                "logo": {"@type": "ImageObject", "url": f"{self.origin}/i/logo/logo.png"},
            },
        }
        if mod:
            ld["dateModified"] = iso(mod)
        data_layer = {"page_tags": ", ".join(text.tags), "page_rubric": text.rubric}
        head = (
            f'<meta name="description" content="{_e(text.lead)}">'
            f'<meta name="keywords" content="{_e(", ".join(text.tags))}">'
            f'<link rel="canonical" href="{_e(url)}">'
            f'<link rel="amphtml" href="{_e(url.replace(".html", ".amp.html"))}">'
            '<meta property="og:type" content="article">'
            f'<meta property="og:title" content="{_e(page.title)}">'
            f'<meta property="og:description" content="{_e(text.lead)}">'
            f'<meta property="og:url" content="{_e(url)}">'
            f'<meta property="og:image" content="{_e(image)}">'
            f'<meta property="og:site_name" content="{_e(ed.name)}">'
            f'<meta property="og:locale" content="{"ru_RU" if ed.lang == "ru" else "kk_KZ"}">'
            f'<meta property="article:published_time" content="{compact(pub)}">'
            + (f'<meta property="article:modified_time" content="{compact(mod)}">' if mod else "")
            + f'<meta property="article:section" content="{_e(text.rubric)}">'
            '<script type="application/ld+json">'
            f"{json.dumps(ld, ensure_ascii=False)}</script>"
            "<script>window.dataLayer = window.dataLayer || []; window.dataLayer.push("
            f"{json.dumps(data_layer, ensure_ascii=False)}"
            ");</script>"
        )
        modified_span = ""
        if mod:
            modified_span = (
                f'<span class="article__info-date-modified" data-unixtime="{int(mod.timestamp())}">'
                f" ({ed.updated}: {mod:%H:%M %d.%m.%Y})</span>"
            )
        caption = text.extra.get(
            "media", "© Sputnik / " + ("Фотохроника" if ed.key == "ru" else "Фотомұрағат")
        )
        header = (
            '<div class="article__header">'
            '<div class="article__supertag-header"><div class="article__supertag-header-title">'
            f"{_e(text.rubric)}</div></div>"
            f'<h1 class="article__title">{_e(page.title)}</h1>'
            f'<div class="article__announce-text">{_e(text.lead)}</div>'
            '<div class="article__info"><div class="article__info-date">'
            f'<a href="/{pub:%Y%m%d}/" data-unixtime="{int(pub.timestamp())}">'
            f"{pub:%H:%M %d.%m.%Y}</a>{modified_span}</div>"
            f'<div class="article__views">{page.index * 211 + 530}</div></div>'
            '<div class="article__announce"><div class="media" data-media-tipe="ar16x9">'
            f'<div class="media__size"><img src="{_e(image)}" alt="{_e(page.title)}" '
            f'title="{_e(page.title)}"></div>'
            '<div class="media__copyright "><div class="media__copyright-item m-copyright">'
            f"{_e(caption)}</div></div></div></div>"
            "</div>"
        )
        body = self._body(page)
        tags = "".join(
            f'<li class="tag"><a href="/keyword_{translit(tag)}/" class="tag__text">'
            f"{_e(tag)}</a></li>"
            for tag in text.tags
        )
        article_html = (
            '<div class="article ">'
            '<div class="article__meta" itemscope itemtype="http://schema.org/Article">'
            f'<meta itemprop="headline" content="{_e(page.title)}">'
            f'<meta itemprop="dateCreated" content="{compact(pub)}">'
            + (f'<meta itemprop="dateModified" content="{compact(mod)}">' if mod else "")
            + "</div>"
            f"{header}"
            f'<div class="article__body js-mediator-article mia-analytics">{body}</div>'
            f'<div class="article__tags"><ul class="tags">{tags}</ul></div>'
            '<div class="article__google-news">'
            '<a href="https://news.google.com/publications/CAAqBwgKMMvWpQswmN-9Aw" '
            f'target="_blank" rel="noopener">{_e(ed.google_news)}</a></div>'
            '<div class="article__footer">'
            f'<div class="share" data-title="{_e(page.title)}">{_e(ed.share)}</div>'
            f'<a class="article__print" href="{article.path.removesuffix(".html")}-print.html">'
            f"{_e(ed.print_label)}</a></div>"
            "</div>"
        )
        main = (
            '<div class="layout-article"><div class="layout-article__over">'
            f'<div class="layout-article__main">{article_html}</div>'
            f'<div class="layout-article__rc">{self._lenta()}</div>'
            "</div></div>"
        )
        title = f"{page.title} - {pub:%d.%m.%Y}, {ed.name}"
        return self._layout(title, main, head=head)

    def _body(self, page: _Page) -> str:
        ed = self.edition
        text = page.text
        paragraphs = [*page.body, *page.added]

        def block(inner: str) -> str:
            return (
                f'<div class="article__block" data-type="text">'
                f'<div class="article__text">{inner}</div></div>'
            )

        blocks = [block(f"<strong>{_e(self._dateline(page))}</strong> {_e(paragraphs[0])}")]
        for n, paragraph in enumerate(paragraphs[1:], start=2):
            if n == 2 and "media" in text.extra:
                blocks.append(
                    '<div class="article__block" data-type="media"><div class="media">'
                    f'<div class="media__size"><img src="{_e(self._image(page))}" alt=""></div>'
                    '<div class="media__copyright "><div class="media__copyright-item '
                    f'm-copyright">{_e(text.extra["media"])}</div></div></div></div>'
                )
            if n == 3:
                title, desc = ed.inserts[page.index % len(ed.inserts)]
                href = f"/20210615/{translit(title)}-{17_100_000 + page.index * 977}.html"
                blocks.append(
                    '<div class="article__block" data-type="article"><div class="article__article">'
                    f'<a href="{href}" class="article__article-image">'
                    '<img src="/i/x.jpg" alt=""></a>'
                    '<div class="article__article-info">'
                    f'<div class="article__article-label">{_e(ed.read_also)}</div>'
                    f'<a href="{href}" class="article__article-title">{_e(title)}</a>'
                    f'<div class="article__article-desc">{_e(desc)}</div></div></div></div>'
                )
            if text.quote and n - 1 == text.quote[2]:
                quote, attribution, _ = text.quote
                blocks.append(
                    '<div class="article__block" data-type="quote"><div class="article__quote">'
                    '<div class="article__quote-bg">«</div>'
                    f'<div class="article__quote-text">{_e(quote)}</div>'
                    f'<div class="article__quote-info">{_e(attribution)}</div></div></div>'
                )
            if n == 4:
                blocks.append(
                    '<div class="article__block" data-type="banner">'
                    '<div class="banner" data-position="article_desktop_content-1">'
                    f'<div class="banner__label">{_e(ed.banner)}</div></div></div>'
                )
            blocks.append(block(_e(paragraph)))
        inject_title, inject_link = ed.inject
        blocks.append(
            '<div class="b-inject"><div class="b-inject__title">'
            f"{_e(inject_title)}</div>"
            f'<a href="/photo/20220201/{translit(inject_link)}-19520000.html">'
            f"{_e(inject_link)}</a></div>"
        )
        blocks.append(
            block(
                '<strong><a href="https://t.me/sputnikkz" target="_blank">'
                f"{_e(ed.telegram)}</a></strong>"
            )
        )
        return "".join(blocks)

    def _print_page(self, page: _Page) -> str:
        body = "".join(f"<p>{_e(p)}</p>" for p in page.article.paragraphs)
        return (
            f'<!DOCTYPE html><html lang="{self.edition.lang}"><head><meta charset="utf-8">'
            f'<meta name="robots" content="noindex, nofollow"><title>{_e(page.title)}</title>'
            f'<link rel="canonical" href="{_e(self.origin + page.article.path)}"></head>'
            f'<body onload="window.print()"><h1>{_e(page.title)}</h1>'
            f"<p><b>{_e(page.text.lead)}</b></p>{body}</body></html>"
        )

    # chrome

    def _layout(self, title: str, main: str, *, head: str) -> str:
        ed = self.edition
        menu = "".join(
            f'<li class="nav__item"><a class="nav__link" href="/{translit(label)}/">'
            f"{_e(label)}</a></li>"
            for label in ed.menu
        )
        other = "https://sputnik.kz" if ed.key == "ru" else "https://ru.sputnik.kz"
        footer = "".join(f'<div class="footer__item">{_e(line)}</div>' for line in ed.footer)
        return (
            f'<!DOCTYPE html><html lang="{ed.lang}" '
            'prefix="og: http://ogp.me/ns# article: http://ogp.me/ns/article#">'
            '<head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1.0">'
            f"<title>{_e(title)}</title>{head}"
            '<link rel="stylesheet" href="/css/common.min.css"></head>'
            '<body class="body m-article">'
            '<div class="page" id="page">'
            '<header class="header"><div class="header__inner">'
            f'<a class="header__logo" href="/" title="{_e(ed.name)}">{_e(ed.name)}</a>'
            f'<nav class="nav"><ul class="nav__list">{menu}'
            f'<li class="nav__item"><a class="nav__link" href="/news/">{_e(ed.all_news)}</a></li>'
            "</ul></nav>"
            f'<div class="header__lang"><a href="{other}">{"Қаз" if ed.key == "ru" else "Рус"}'
            "</a></div>"
            '<div class="header__search"><a href="/search/">&#128269;</a></div>'
            "</div></header>"
            f'<div class="page__width">{main}</div>'
            '<footer class="footer"><div class="footer__inner">'
            f'<div class="footer__logo">{_e(ed.name)}</div>{footer}'
            f'<div class="footer__copyright">© 2022 Sputnik · 18+</div>'
            "</div></footer>"
            "</div>"
            '<script src="/js/common.min.js"></script>'
            "</body></html>"
        )


def _text(body: str, content_type: str) -> Reply:
    return Reply(200, body.encode("utf-8"), {"Content-Type": content_type})


def _html(body: str) -> Reply:
    return _text(body, "text/html; charset=utf-8")


__all__ = ["EDITIONS", "OPEN_ROBOTS", "PLATFORM_ROBOTS", "ReplicaArticle", "SputnikSite"]
