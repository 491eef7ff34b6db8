"""Big loopback replicas for `make bench`: Orda.kz and Sputnik (ru) layouts with N articles.

The article pages are rendered by the test replicas' own templates (monitor/replica/orda.py and
monitor/replica/sputnik.py) from texts recombined out of their text modules: each article draws
its title, lead and 3-14 body paragraphs (Russian, or Kazakh for about a third of Orda's) at
random, so trafilatura never sees the same page twice. Each page then gets the chrome a real
news page carries (a CSS block, a JSON state blob, an SVG sprite, a mega-menu, teaser grids)
until it weighs its drawn target of 40-120 KB.

Everything about article i is a function of (site, i) alone, so the first 1,000 articles of a
5,000-article site are the 1,000 articles of a 1,000-article site, and a page once rendered is
kept on disk (`cache`) and served from there: the harness never holds the pages in memory.
Pages are written with the placeholder origin ORIGIN, replaced by the server's at serve time.

Discovery as on the real sites: robots.txt, an RSS feed, a sitemap index with children (Orda:
numbered urlsets of 1,000; Sputnik: monthly date ranges) and the news listing.
"""

from __future__ import annotations

import html
import json
import os
import random
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs

from monitor.replica import orda, sputnik
from monitor.replica.orda_texts import EDGE_STORIES, STORIES
from monitor.replica.server import Reply, Site
from monitor.replica.sputnik_texts import KZ, KZ_SIDEBAR, RU, RU_SIDEBAR

ORIGIN = "http://replica.bench"  # in the cached pages; replaced by the real origin when served
KZ_TIME = sputnik.KZ_TIME
NEWEST = datetime(2024, 6, 28, 18, 0, tzinfo=KZ_TIME)  # article 0; article i is older
MINUTES_APART = 10  # between consecutive articles of one site
MIN_BYTES, MAX_BYTES = 40_000, 120_000
GENERATOR_VERSION = 1  # bump when the pages change, so old caches are not reused


def _pools() -> dict[str, dict[str, list[str]]]:
    """Titles, leads and paragraphs by language, from both replicas' text modules."""
    pools: dict[str, dict[str, list[str]]] = {
        lang: {"title": [], "lead": [], "para": [], "tag": []} for lang in ("ru", "kk")
    }
    for story in [*STORIES, *EDGE_STORIES.values()]:
        pool = pools[story["lang"]]
        pool["title"].append(story["title"])
        if story["lead"]:
            pool["lead"].append(story["lead"])
        pool["para"] += story["paragraphs"]
        pool["tag"] += story["tags"]
    for lang, texts in (("ru", RU), ("kk", KZ)):
        pool = pools[lang]
        for text in texts:
            pool["title"].append(text.title)
            pool["lead"].append(text.lead)
            pool["para"] += text.body
            pool["tag"] += text.tags
    for pool in pools.values():
        for key in pool:
            pool[key] = sorted(set(pool[key]))
    return pools


POOLS = _pools()
HEADLINES = {  # teaser headlines for the chrome
    "ru": sorted(set(POOLS["ru"]["title"] + RU_SIDEBAR)),
    "kk": sorted(set(POOLS["kk"]["title"] + KZ_SIDEBAR)),
}
AUTHORS = ["Жанна Исмаилова", "Алихан Сейтказы", "Марина Ли", "Данияр Ахметов", "Редакция Orda.kz"]
CHROME_WORDS = {
    "ru": [
        "Рекомендуем",
        "Популярное",
        "Выбор редакции",
        "Партнерские материалы",
        "Вам понравится",
    ],
    "kk": ["Ұсынамыз", "Танымал", "Редакция таңдауы", "Серіктес материалдары", "Сізге ұнайды"],
}


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def published(i: int) -> datetime:
    return NEWEST - timedelta(minutes=MINUTES_APART * i)


def since(count: int) -> str:
    """The `since` that reaches back to the oldest of `count` articles (a day's margin)."""
    return (published(count - 1) - timedelta(days=1)).date().isoformat()


def _article_text(rng: random.Random, lang: str) -> dict:
    pool = POOLS[lang]
    return {
        "title": rng.choice(pool["title"]),
        "lead": rng.choice(pool["lead"]),
        "paragraphs": rng.sample(pool["para"], rng.randint(3, 14)),
        "tags": rng.sample(pool["tag"], rng.randint(2, 4)),
    }


def _chrome(rng: random.Random, lang: str, size: int, target: int) -> tuple[str, str, str]:
    """Chrome for one page: (head markup, header markup, block before the footer)."""
    rules = "".join(
        f".c{rng.getrandbits(24):06x} .el-{n}{{margin:{n % 17}px {n % 9}px;"
        f"color:#{rng.getrandbits(24):06x};font-size:{12 + n % 8}px;line-height:1.{n % 9}}}"
        for n in range(rng.randint(150, 300))
    )
    head = f"<style>{rules}</style>\n"
    icons = "".join(
        f'<symbol id="i{n}" viewBox="0 0 24 24"><path d="M{n % 24} {n % 7}l'
        + " ".join(f"{rng.randint(-9, 9)} {rng.randint(-9, 9)}" for _ in range(12))
        + 'z"/></symbol>'
        for n in range(rng.randint(20, 40))
    )
    menu = "".join(
        f'<li><a href="/category/rubric-{n}/">{_esc(rng.choice(HEADLINES[lang])[:24])}</a></li>'
        for n in range(rng.randint(30, 60))
    )
    header = (
        f'<svg style="display:none" xmlns="http://www.w3.org/2000/svg">{icons}</svg>'
        f'<nav class="megamenu"><ul>{menu}</ul></nav>\n'
    )
    size += len((head + header).encode())
    blocks, state = [], []
    while size < target:
        title = rng.choice(CHROME_WORDS[lang])
        items = []
        for _ in range(rng.randint(6, 12)):
            headline = rng.choice(HEADLINES[lang])
            href = f"/teaser/{rng.getrandbits(40):010x}/"
            state.append({"id": rng.getrandbits(30), "title": headline, "url": href, "views": 0})
            items.append(
                f'<div class="teaser"><a href="{href}" class="teaser__link">'
                f'<img src="/img/{rng.getrandbits(48):012x}.webp" alt="" loading="lazy">'
                f'<span class="teaser__title">{_esc(headline)}</span></a>'
                f'<span class="teaser__date">{rng.randint(1, 28):02d}.06.2024</span></div>\n'
            )
        block = f'<section class="teasers"><h3>{title}</h3>\n{"".join(items)}</section>\n'
        blocks.append(block)
        size += len(block.encode()) * 2  # the state blob repeats the teasers
    blob = json.dumps({"widgets": state}, ensure_ascii=False).replace("</", "<\\/")
    head += f"<script>window.__STATE__ = {blob};</script>\n"
    return head, header, f'<div class="recommend">{"".join(blocks)}</div>\n'


def _dress(markup: str, rng: random.Random, lang: str, header_after: str) -> str:
    target = rng.randint(MIN_BYTES, MAX_BYTES)
    head, header, block = _chrome(rng, lang, len(markup.encode()), target)
    markup = markup.replace("</head>", head + "</head>", 1)
    markup = markup.replace(header_after, header_after + header, 1)
    return markup.replace('<footer class="footer">', block + '<footer class="footer">', 1)


class BenchSite(Site):
    """A replica with `count` articles, cached on disk under `cache`."""

    slug = ""
    article_path_regex = ""

    def __init__(self, count: int, cache: Path):
        self.count = count
        self.cache = cache / f"{self.slug}-v{GENERATOR_VERSION}"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.paths = [self.path(i) for i in range(count)]
        self.index = {path: i for i, path in enumerate(self.paths)}
        self._origin = ORIGIN
        self._origin_bytes = ORIGIN.encode()
        self._documents: dict[tuple[str, str, str], Reply] = {}

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        """Articles from the disk cache; feeds, sitemaps and listings built once, then kept,
        as a real site serves them (a sitemap of 1,000 URLs takes the replica ~0.1 s to build,
        which would otherwise count in every crawl's time)."""
        if path in self.index:
            return self.article_reply(self.index[path])
        key = (self._origin, path, query)
        if key not in self._documents:
            self._documents[key] = self.document(path, query)
        return self._documents[key]

    def document(self, path: str, query: str) -> Reply:
        """Any page but an article."""
        raise NotImplementedError

    @Site.origin.setter
    def origin(self, value: str) -> None:
        Site.origin.fset(self, value)
        self._origin_bytes = self._origin.encode()

    def path(self, i: int) -> str:
        raise NotImplementedError

    def render(self, i: int) -> str:
        """The whole article page, with ORIGIN as its origin."""
        raise NotImplementedError

    def page_file(self, i: int) -> Path:
        """The cached page of article i, rendered first if needed."""
        file = self.cache / f"{i}.html"
        if not file.exists():
            serving = self._origin
            self._origin = ORIGIN
            try:
                body = self.render(i).encode("utf-8")
            finally:
                self._origin = serving
            tmp = file.with_suffix(f".{os.getpid()}.{id(body)}.tmp")
            tmp.write_bytes(body)
            tmp.replace(file)
        return file

    def article_reply(self, i: int) -> Reply:
        body = self.page_file(i).read_bytes().replace(ORIGIN.encode(), self._origin_bytes)
        return Reply(200, body, {"Content-Type": "text/html; charset=UTF-8"})

    def text(self, body: str, content_type: str) -> Reply:
        return Reply(200, body.encode("utf-8"), {"Content-Type": content_type})


class OrdaBench(BenchSite, orda.OrdaSite):
    """Orda.kz: /feed/, /sitemap.xml -> /sitemap/sitemap_news{k}.xml (1,000 each), /last-news/."""

    slug = "orda"
    article_path_regex = r"^/[a-z0-9-]+-\d+/$"
    PER_SITEMAP = 1000

    def __init__(self, count: int, cache: Path):
        orda.OrdaSite.__init__(self)
        BenchSite.__init__(self, count, cache)

    def _story(self, i: int, full: bool = False) -> orda._Story:
        rng = random.Random(f"orda-{i}")
        lang = "kk" if rng.random() < 0.3 else "ru"
        data = _article_text(rng, lang)
        data.update(
            lang=lang,
            published=published(i).isoformat(),
            topic=False,
            rubric=rng.choice(orda._MENU[lang][1:])[0],
            author=rng.choice(AUTHORS),
            caption="Фото: " + rng.choice(["Depositphotos", "Orda.kz", "Shutterstock"]),
            teaser=data["title"],
            teaser_kk=data["title"],
        )
        if rng.random() < 0.2:
            data["modified"] = (published(i) + timedelta(hours=2)).isoformat()
        if rng.random() < 0.3:
            data["quote"] = rng.randrange(len(data["paragraphs"]))
        story = orda._Story("normal", 600_000 + i, self.path_of(data, i), data, None)
        if full:
            near = [j for j in range(i - 6, i + 40) if 0 <= j < self.count and j != i]
            story.read_also = self._story(near[0])
            story.related = [self._story(j) for j in near[1 : 4 + i % 2]]
            story.sidebar = [self._story(j) for j in range(min(14 + rng.randint(0, 16), i))]
            story.popular = [self._story(j) for j in near[-4:]]
        return story

    @staticmethod
    def path_of(data: dict, i: int) -> str:
        slug = "-".join(orda.slugify(data["title"]).split("-")[:8]) or "news"
        return f"/{slug}-{600_000 + i}/"

    def path(self, i: int) -> str:
        return self._story(i).path

    def render(self, i: int) -> str:
        story = self._story(i, full=True)
        markup = self._article_html(story, "utf-8")
        return _dress(markup, random.Random(f"orda-chrome-{i}"), story.lang, "</header>\n")

    def document(self, path: str, query: str) -> Reply:
        if path == "/robots.txt":
            body = f"User-agent: *\nDisallow: /wp-admin/\n\nSitemap: {self.origin}/sitemap.xml\n"
            return self.text(body, "text/plain; charset=utf-8")
        if path == "/feed/":
            return self.text(self._bench_feed(), "application/rss+xml; charset=UTF-8")
        if path == "/sitemap.xml":
            return self.text(self._bench_index(), "application/xml; charset=UTF-8")
        match = re.fullmatch(r"/sitemap/sitemap_news(\d+)\.xml", path)
        if match and 1 <= int(match.group(1)) <= self._sitemaps():
            return self.text(self._bench_sitemap(int(match.group(1))), "application/xml")
        if path in ("/", "/last-news/"):
            return self.text(self._bench_last_news(), "text/html; charset=UTF-8")
        return Reply(404, b"not found", {"Content-Type": "text/plain"})

    def _sitemaps(self) -> int:
        return -(-self.count // self.PER_SITEMAP)

    def _lastmod(self, i: int) -> str:
        story = self._story(i)
        return story.data.get("modified") or story.data["published"]

    def _bench_feed(self) -> str:
        items = "".join(
            f"<item><title>{_esc(s.data['title'])}</title>"
            f"<link>{self.origin}{s.path}</link>"
            f"<pubDate>{format_datetime(s.published)}</pubDate>"
            f"<description><![CDATA[{s.data['lead']}]]></description></item>\n"
            for s in map(self._story, range(min(15, self.count)))
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Orda.kz</title><link>{self.origin}</link>\n{items}</channel></rss>\n"
        )

    def _bench_index(self) -> str:
        entries = "".join(
            f"<sitemap><loc>{self.origin}/sitemap/sitemap_news{k}.xml</loc>"
            f"<lastmod>{self._lastmod((k - 1) * self.PER_SITEMAP)}</lastmod></sitemap>\n"
            for k in range(1, self._sitemaps() + 1)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}</sitemapindex>\n'
        )

    def _bench_sitemap(self, k: int) -> str:
        first = (k - 1) * self.PER_SITEMAP
        entries = "".join(
            f"<url><loc>{self.origin}{self.paths[i]}</loc>"
            f"<lastmod>{self._lastmod(i)}</lastmod></url>\n"
            for i in range(first, min(first + self.PER_SITEMAP, self.count))
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}</urlset>\n'
        )

    def _bench_last_news(self) -> str:
        items = "".join(
            f'<li><a href="{s.path}"><span class="newslist3__title">{_esc(s.data["title"])}'
            "</span></a></li>\n"
            for s in map(self._story, range(min(20, self.count)))
        )
        return self._page(
            "ru",
            title="Последние новости - Orda.kz",
            head="",
            content=f'<div class="content"><div class="newslist3"><ul>\n{items}</ul></div></div>',
            sidebar="",
        )


class SputnikBench(BenchSite, sputnik.SputnikSite):
    """Sputnik (ru): RSS, monthly date-range sitemaps, /news/ with "load more" fragments."""

    slug = "sputnik_ru"
    article_path_regex = r"^/\d{8}/[a-z0-9-]+-\d+\.html$"

    def __init__(self, count: int, cache: Path):
        sputnik.SputnikSite.__init__(self, edition="ru")
        BenchSite.__init__(self, count, cache)

    def _id(self, i: int) -> int:
        return 19_000_000 + 7 * i

    def _page_of(self, i: int) -> sputnik._Page:
        rng = random.Random(f"sputnik-{i}")
        data = _article_text(rng, "ru")
        when = published(i)
        modified = when + timedelta(hours=1) if rng.random() < 0.2 else None
        quote = None
        if rng.random() < 0.3:
            quote = (rng.choice(POOLS["ru"]["lead"]), "Источник", rng.randint(1, 3))
        extra = {"media": "© Sputnik / Фотохроника"} if rng.random() < 0.5 else {}
        text = sputnik.Text(
            when=f"{when:%Y-%m-%d %H:%M}",
            rubric=rng.choice(self.edition.menu[:6]),
            city=rng.choice(["АСТАНА", "АЛМАТЫ", "ШЫМКЕНТ", "АКТАУ", "КАРАГАНДА"]),
            title=data["title"],
            lead=data["lead"],
            body=data["paragraphs"],
            tags=data["tags"],
            quote=quote,
            modified=f"{modified:%Y-%m-%d %H:%M}" if modified else None,
            extra=extra,
        )
        article_id = self._id(i)
        path = f"/{when:%Y%m%d}/{sputnik.translit(text.title)}-{article_id}.html"
        article = sputnik.ReplicaArticle(
            id=article_id,
            url=path,
            path=path,
            title=text.title,
            lead=text.lead,
            paragraphs=[],
            published=when.isoformat(),
            modified=modified.isoformat() if modified else None,
            author=None,
            tags=list(text.tags),
            lang="ru",
            topic=None,
        )
        return sputnik._Page(text, i, when, modified, text.title, list(text.body), article)

    def path(self, i: int) -> str:
        return self._page_of(i).article.path

    def render(self, i: int) -> str:
        markup = self._article_page(self._page_of(i))
        return _dress(markup, random.Random(f"sputnik-chrome-{i}"), "ru", "</header>")

    def document(self, path: str, query: str) -> Reply:
        if path == "/robots.txt":
            return self.text(self.robots.format(origin=self.origin), "text/plain; charset=utf-8")
        if path == "/export/rss2/archive/index.xml":
            return self.text(self._bench_feed(), "application/rss+xml; charset=utf-8")
        if path == "/sitemap_article_index.xml":
            return self.text(self._sitemap_index(), "application/xml; charset=utf-8")
        if path == "/sitemap_article.xml":
            return self._sitemap(query)
        if path in ("/", "/news/"):
            return self.text(self._bench_news(0, LISTING_FIRST), "text/html; charset=utf-8")
        if path == "/services/news/more.html":
            return self._bench_more(query)
        return Reply(404, b"not found", {"Content-Type": "text/plain"})

    def _bench_feed(self) -> str:
        items = "".join(
            f"<item><title>{_esc(p.title)}</title><link>{self.origin}{p.article.path}</link>"
            f"<guid>{self.origin}{p.article.path}</guid>"
            f"<pubDate>{format_datetime(p.published)}</pubDate>"
            f"<description>{_esc(p.text.lead)}</description></item>"
            for p in map(self._page_of, range(min(15, self.count)))
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>Sputnik</title><link>{self.origin}/</link>{items}</channel></rss>\n"
        )

    def _sitemap_months(self) -> list[tuple[date, date]]:
        newest, oldest = published(0).date(), published(self.count - 1).date()
        months, first = [], newest.replace(day=1)
        while True:
            months.append((first, sputnik.month_end(first)))
            if first <= oldest:
                return months
            first = (first - timedelta(days=1)).replace(day=1)

    def _published_between(self, start: date, end: date) -> list[sputnik._Page]:
        return [self._page_of(i) for i in range(self.count) if start <= published(i).date() <= end]

    def _bench_news(self, start: int, size: int, fragment: bool = False) -> str:
        shown = [self._page_of(i) for i in range(start, min(start + size, self.count))]
        items = "".join(self._list_item(p) for p in shown)
        more = ""
        if start + size < self.count and shown:
            url = _esc(self._more_url(shown[-1]))
            more = (
                f'<div class="list-items-loaded" data-next-url="{url}"></div>'
                if fragment
                else f'<div class="list__more" data-url="{url}"><span>…</span></div>'
            )
        if fragment:
            return items + more
        main = f'<div class="list list-tags" data-type="lenta">{items}</div>{more}'
        return self._layout(self.edition.all_news, main, head="")

    def _bench_more(self, query: str) -> Reply:
        try:
            after = (int(parse_qs(query)["id"][0]) - self._id(0)) // 7
        except (KeyError, ValueError):
            return Reply(400, b"bad request", {"Content-Type": "text/plain"})
        body = self._bench_news(after + 1, LISTING_MORE, fragment=True)
        return self.text(body, "text/html; charset=utf-8")


LISTING_FIRST, LISTING_MORE = sputnik.LISTING_FIRST_PAGE, sputnik.LISTING_MORE_PAGE
SITES = {"orda": OrdaBench, "sputnik_ru": SputnikBench}
