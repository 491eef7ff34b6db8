"""The Orda.kz replica: pages, feed, sitemaps and the ground truth the crawl tests assert against.

Layout follows the real site (see research/outlets.md, section 1): robots.txt, a WordPress RSS feed
at /feed/, a sitemap index at /sitemap.xml with two numbered news sitemaps, the /last-news/ listing
(div.newslist3) and article pages at /{translit-slug}-{id}/ in the 2024+ template (no <article>,
body in div.fulltext > div.newstext, the last <ul> of which is chrome). Everything is generated in
memory from orda_texts; absolute URLs are built from `origin`, which the server sets.

Edge cases (each listed in a sitemap and marked in `articles`): dead 404/410 entries, a __trashed
slug, a 503-then-200 page, declared and undeclared windows-1251 pages, a truncated page, a 2.5 MB
page, a PDF, a redirect loop, a 301 to a new slug, an empty 200, a page without text, and a feed
link with tracking parameters.
"""

from __future__ import annotations

import html
import json
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

from .orda_texts import EDGE_STORIES, STORIES
from .server import Reply, Site

TRACKING_QUERY = "utm_source=rss&utm_medium=feed&utm_campaign=orda"
NEWS2_BEFORE = datetime(2022, 1, 20, tzinfo=timezone(timedelta(hours=6)))  # older go to news2
HUGE_PAGE_BYTES = 2_500_000

_ID_EPOCH = datetime(2021, 12, 20, tzinfo=timezone(timedelta(hours=6)))
_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "jo", "ж": "zh", "з": "z",
    "и": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "cz", "ч": "ch", "ш": "sh",
    "щ": "shh", "ъ": "", "ы": "y", "ь": "", "э": "je", "ю": "ju", "я": "ja",
    "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "y", "ү": "y", "һ": "h", "і": "i",
}  # fmt: skip
_MONTHS = {
    "ru": ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"],
    "kk": ["қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз",
           "қыркүйек", "қазан", "қараша", "желтоқсан"],
}  # fmt: skip

# Site chrome, per language.
_MENU = {
    "ru": [
        ("Ордынка", "ordynka"), ("Политика", "politika"), ("Экономика", "ekonomika"),
        ("Общество", "obshhestvo"), ("Происшествия", "proisshestvija"),
        ("Расследования", "rassledovanija"), ("Мир", "mir"), ("Спорт", "sport"),
        ("Культура", "kultura"), ("Мнения", "mnenija"), ("Спецпроекты", "specproekty"),
    ],
    "kk": [
        ("Жаңалықтар", "zhanalyktar"), ("Саясат", "sajasat"), ("Экономика", "ekonomika"),
        ("Қоғам", "kogam"), ("Оқиға", "okiga"), ("Тергеу", "tergeu"), ("Әлем", "alem"),
        ("Спорт", "sport"), ("Мәдениет", "madeniet"), ("Пікір", "pikir"),
    ],
}  # fmt: skip
_WORDS = {
    "ru": {
        "section": "Ордынка",
        "all_news": "Все новости",
        "search": "Поиск по сайту",
        "find": "Найти",
        "author": "Автор:",
        "read_also": "Читайте также:",
        "tags": "Теги:",
        "share": "Поделиться:",
        "subscribe": (
            '<a href="https://t.me/orda_kz" rel="nofollow">Подписывайтесь на наш '
            "Telegram-канал</a>, чтобы первыми узнавать главные новости"
        ),
        "popular": "Самое читаемое",
        "lenta": "Лента новостей",
        "cookie": (
            "Мы используем файлы cookie, чтобы сайт работал корректно, и для анализа "
            "посещаемости. Продолжая пользоваться сайтом, вы принимаете нашу "
            '<a href="/privacy-policy/">политику конфиденциальности</a>.'
        ),
        "accept": "Принять",
        "about": (
            "Orda.kz — независимое интернет-издание: новости, расследования и аналитика о "
            "Казахстане."
        ),
        "footer_menu": [
            ("О нас", "/about/"),
            ("Контакты", "/contacts/"),
            ("Реклама на сайте", "/advertising/"),
            ("Политика конфиденциальности", "/privacy-policy/"),
            ("Правила использования материалов", "/terms/"),
        ],
        "contacts": [
            "Адрес редакции: 050000, г. Алматы",
            "Телефон: +7 (727) 000-00-00",
            "E-mail: info@orda.kz",
        ],
        "certificate": (
            "Свидетельство о постановке на учёт СМИ № KZ21VPY00028751 от 15.10.2020 выдано "
            "Министерством информации и общественного развития Республики Казахстан."
        ),
        "copyright": (
            "© 2020–2022 Orda.kz. Все права защищены. При полном или частичном использовании "
            "материалов ссылка на Orda.kz обязательна."
        ),
        "disclaimer": "Мнение редакции может не совпадать с мнением авторов. 18+",
        "views": "Просмотры",
    },
    "kk": {
        "section": "Жаңалықтар",
        "all_news": "Барлық жаңалықтар",
        "search": "Сайт бойынша іздеу",
        "find": "Іздеу",
        "author": "Автор:",
        "read_also": "Сондай-ақ оқыңыз:",
        "tags": "Тегтер:",
        "share": "Бөлісу:",
        "subscribe": (
            "Маңызды жаңалықтарды бірінші болып білу үшін "
            '<a href="https://t.me/orda_kz" rel="nofollow">Telegram-арнамызға жазылыңыз</a>'
        ),
        "popular": "Көп оқылғандар",
        "lenta": "Жаңалықтар легі",
        "cookie": (
            "Біз сайттың дұрыс жұмыс істеуі және қаралымды талдау үшін cookie файлдарын "
            "пайдаланамыз. Сайтты пайдалануды жалғастыра отырып, сіз біздің "
            '<a href="/privacy-policy/">құпиялылық саясатымызды</a> қабылдайсыз.'
        ),
        "accept": "Қабылдау",
        "about": (
            "Orda.kz — тәуелсіз интернет-басылым: Қазақстан туралы жаңалықтар, зерттеулер және "
            "талдау."
        ),
        "footer_menu": [
            ("Біз туралы", "/about/"),
            ("Байланыс", "/contacts/"),
            ("Жарнама", "/advertising/"),
            ("Құпиялылық саясаты", "/privacy-policy/"),
        ],
        "contacts": [
            "Редакция мекенжайы: 050000, Алматы қаласы",
            "Телефон: +7 (727) 000-00-00",
            "E-mail: info@orda.kz",
        ],
        "certificate": (
            "Бұқаралық ақпарат құралын есепке қою туралы куәлік № KZ21VPY00028751, 15.10.2020 "
            "жылы Қазақстан Республикасы Ақпарат және қоғамдық даму министрлігі берген."
        ),
        "copyright": (
            "© 2020–2022 Orda.kz. Барлық құқықтар қорғалған. Материалдарды толық немесе ішінара "
            "пайдаланған кезде Orda.kz сайтына сілтеме беру міндетті."
        ),
        "disclaimer": "Редакцияның пікірі авторлардың пікірімен сәйкес келмеуі мүмкін. 18+",
        "views": "Қаралым",
    },
}
# Chrome strings that must never reach extracted text (teasers, captions and rubric labels are
# added per page).
_STATIC_CHROME = [
    "RU | KZ | EN",
    "Читайте также:",
    "Лента новостей",
    "Поделиться:",
    "Мы используем файлы cookie",
    "политику конфиденциальности",
    "Свидетельство о постановке на учёт СМИ",
    "Министерством информации и общественного развития",
    "Все права защищены",
    "При полном или частичном использовании материалов",
    "Мнение редакции может не совпадать с мнением авторов",
    "Подписывайтесь на наш Telegram-канал",
    "Самое читаемое",
    "Теги:",
    "Реклама на сайте",
    "Правила использования материалов",
    "Ya.Context.AdvManager",
    "Архив материалов",
    "Сондай-ақ оқыңыз:",
    "Жаңалықтар легі",
    "Бөлісу:",
    "cookie файлдарын пайдаланамыз",
    "құпиялылық саясатымызды",
    "Бұқаралық ақпарат құралын есепке қою туралы куәлік",
    "Барлық құқықтар қорғалған",
    "Telegram-арнамызға жазылыңыз",
    "Көп оқылғандар",
    "Тегтер:",
]
_POPULAR_KEYS = [
    "coup-attempt-speech",
    "csto-arrives",
    "base-rate",
    "business-compensation",
    "first-trials",
    "kk-victims-families",
]
_FAKE_PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


@dataclass
class ReplicaArticle:
    """Ground truth for one article-like URL the site lists."""

    id: int
    url: str  # absolute canonical URL (updated when the site gets its origin)
    path: str  # "/slug-123/"
    title: str
    lead: str
    paragraphs: list[str]  # body after the lead, plain text, blockquote text included
    published: str  # exactly the article:published_time value
    modified: str | None
    author: str
    tags: list[str]
    lang: str  # "ru" or "kk"
    topic: bool  # about the January 2022 events
    expect: str  # "stored", "failure" or "skipped"
    note: str = ""  # the edge case, if any
    aliases: list[str] = field(default_factory=list)  # other listed paths (+query) for this page

    @property
    def text(self) -> str:
        """Lead and body paragraphs, one per line."""
        return "\n".join([self.lead, *self.paragraphs]) if self.lead else "\n".join(self.paragraphs)


@dataclass
class _Story:
    """One page of the site with its data; `article` is its ground-truth record."""

    kind: str  # normal, flaky, cp1251, cp1251_bare, truncated, huge, moved, trashed, photo
    id: int
    path: str
    data: dict
    article: ReplicaArticle
    read_also: _Story | None = None
    related: list[_Story] = field(default_factory=list)
    sidebar: list[_Story] = field(default_factory=list)
    popular: list[_Story] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.data["lang"]

    @property
    def published(self) -> datetime:
        return datetime.fromisoformat(self.data["published"])

    @property
    def lastmod(self) -> str:
        return self.data.get("modified") or self.data["published"]

    def teaser(self, lang: str) -> str:
        return self.data["teaser" if lang == "ru" else "teaser_kk"]


@dataclass
class _Listed:
    """A sitemap entry: a story's page or a failure-only URL."""

    path: str
    published: str
    story: _Story | None = None

    @property
    def lastmod(self) -> str:
        return self.story.lastmod if self.story else self.published


def slugify(title: str) -> str:
    """Transliterate a Russian or Kazakh title the way Orda's WordPress did (х→h, я→ja, ц→cz)."""
    latin = "".join(_TRANSLIT.get(char, char) for char in title.lower())
    return re.sub(r"[^a-z0-9]+", "-", latin).strip("-")


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso).astimezone(UTC), usegmt=True)


def _display_date(iso: str, lang: str) -> str:
    moment = datetime.fromisoformat(iso)
    return f"{moment.day} {_MONTHS[lang][moment.month - 1]} {moment.year}, {moment:%H:%M}"


class OrdaSite(Site):
    """The Orda.kz replica. Ground truth: `articles`, `chrome_phrases`, `article_path_regex`."""

    article_path_regex = r"^/[a-z0-9%_-]+-\d+(__trashed)?/$"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cache: dict[str, Reply] = {}
        self._flaky_served: set[str] = set()
        self.delay = 0.0  # seconds added to every answer, for slow-site tests
        self._stories: list[_Story] = []
        self._listed: list[_Listed] = []
        self._redirects: dict[str, tuple[int, str]] = {}
        self._special: dict[str, str] = {}  # path -> "404", "410", "pdf", "empty"
        self._build()
        self.articles: list[ReplicaArticle] = self._ground_truth()
        self.chrome_phrases: list[str] = self._chrome_phrases()
        self._check_chrome()

    # -- origin -------------------------------------------------------------------------------

    @Site.origin.setter
    def origin(self, value: str) -> None:
        with self._lock:
            self._cache.clear()
            Site.origin.fset(self, value)

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        used_ids = {400123, 400901, 400902, 400950}

        def new_id(published: str) -> int:
            hours = (datetime.fromisoformat(published) - _ID_EPOCH).total_seconds() / 3600
            candidate = 399100 + int(hours * 1.8)
            while candidate in used_ids:
                candidate += 1
            used_ids.add(candidate)
            return candidate

        def story(kind: str, data: dict, *, id: int | None = None, path: str = "") -> _Story:
            id = id or new_id(data["published"])
            path = path or f"/{slugify(data['title'])}-{id}/"
            article = ReplicaArticle(
                id=id,
                url=path,
                path=path,
                title=data["title"],
                lead=data["lead"],
                paragraphs=list(data["paragraphs"]),
                published=data["published"],
                modified=data.get("modified"),
                author=data["author"],
                tags=list(data["tags"]),
                lang=data["lang"],
                topic=data["topic"],
                expect="stored",
            )
            made = _Story(kind, id, path, dict(data, paragraphs=list(data["paragraphs"])), article)
            self._stories.append(made)
            self._listed.append(_Listed(path, data["published"], made))
            return made

        for data in STORIES:
            made = story("normal", data)
            if data["published"] < "2022":
                made.article.note = "dated 2021: outside since=2022-01-01"
            if data["key"] == "first-trials":
                made.article.note = "tracking-parameter duplicate: the feed links it with utm_*"
                made.article.aliases.append(f"{made.path}?{TRACKING_QUERY}")
        for kind, note in [
            ("flaky", "503 then 200: the first GET answers 503 with Retry-After: 1"),
            ("cp1251", "windows-1251, declared in Content-Type and <meta charset>"),
            ("cp1251_bare", "windows-1251 with no charset declared anywhere"),
            ("truncated", "truncated HTML: cut inside the last paragraph (not in paragraphs)"),
            ("huge", "huge page: about 2.5 MB of sidebar padding"),
        ]:
            story(kind, EDGE_STORIES[kind]).article.note = note
        moved = story("moved", EDGE_STORIES["moved"], id=400950, path="/new-slug-400950/")
        moved.article.note = "moved: listed as /old-slug-400950/, which answers 301 here"
        moved.article.aliases.append("/old-slug-400950/")
        self._listed[-1].path = "/old-slug-400950/"
        self._redirects["/old-slug-400950/"] = (301, "/new-slug-400950/")
        trashed = story(
            "trashed", EDGE_STORIES["trashed"], id=400123, path="/some-slug-400123__trashed/"
        )
        trashed.article.expect = "skipped"
        trashed.article.note = "__trashed slug: must never be requested"
        photo = story("photo", EDGE_STORIES["photo"])
        photo.article.expect = "failure"
        photo.article.note = "no article text: chrome and an empty div.newstext"
        truncated = next(s for s in self._stories if s.kind == "truncated")
        truncated.article.paragraphs.pop()

        # Failure-only URLs: no story behind them.
        self._failures: dict[str, ReplicaArticle] = {}
        for special, slug, published, note in [
            ("404", "v-karagande-otkryli-ledovyj-gorodok", "2022-01-15T10:20:00+06:00",
             "dead sitemap entry: 404"),
            ("410", "akcii-kazahstanskih-kompanij-podorozhali-na-birzhe",
             "2022-01-22T12:00:00+06:00", "dead sitemap entry: 410"),
            ("pdf", "doklad-o-sostojanii-okruzhajushhej-sredy-za-2021-god",
             "2022-01-27T10:00:00+06:00", "not HTML: application/pdf"),
            ("empty", "itogi-nedeli-glavnoe-za-sem-dnej", "2022-01-29T14:00:00+06:00",
             "empty 200 response"),
            ("loop", "loop-a", "2022-01-30T16:30:00+06:00",
             "redirect loop: /loop-a-400901/ -> /loop-b-400902/ -> /loop-a-400901/"),
        ]:  # fmt: skip
            id = 400901 if special == "loop" else new_id(published)
            path = f"/{slug}-{id}/"
            if special == "loop":
                self._redirects[path] = (302, "/loop-b-400902/")
                self._redirects["/loop-b-400902/"] = (302, path)
            else:
                self._special[path] = special
            self._listed.append(_Listed(path, published))
            self._failures[path] = ReplicaArticle(
                id=id,
                url=path,
                path=path,
                title="",
                lead="",
                paragraphs=[],
                published=published,
                modified=None,
                author="",
                tags=[],
                lang="ru",
                topic=False,
                expect="failure",
                note=note,
            )
        self._by_path = {s.path: s for s in self._stories}
        self._plan_links()

    def _plan_links(self) -> None:
        """Choose each page's read-also, related, sidebar and popular links, once."""
        pool = [
            s for s in self._stories if s.kind == "normal" and s.data["published"] >= "2022-01-01"
        ]
        for page in self._stories:
            lang = page.lang
            key = "teaser" if lang == "ru" else "teaser_kk"
            others = [s for s in pool if s is not page and key in s.data]

            def distance(s: _Story, page: _Story = page) -> tuple[bool, float]:
                gap = abs((s.published - page.published).total_seconds())
                return (s.data["topic"] != page.data["topic"], gap)

            by_distance = sorted(others, key=distance)
            older = [s for s in by_distance if s.published < page.published]
            page.read_also = (older or by_distance)[0]
            size = 3 + page.id % 2
            page.related = [s for s in by_distance if s is not page.read_also][:size]
            page.sidebar = sorted(others, key=lambda s: s.published, reverse=True)[:14]
            popular = [s for k in _POPULAR_KEYS for s in others if s.data.get("key") == k]
            page.popular = popular[:4]

    def _ground_truth(self) -> list[ReplicaArticle]:
        records = [
            listed.story.article if listed.story else self._failures[listed.path]
            for listed in self._listed
        ]
        return sorted(records, key=lambda a: (a.published, a.id))

    def _chrome_phrases(self) -> list[str]:
        phrases = list(_STATIC_CHROME)
        for page in self._stories:
            lang = page.lang
            extra = [page.data["caption"], self._rubric_label(page)]
            links = [*page.sidebar, *page.popular]
            if page.data["paragraphs"]:
                links += [*page.related, page.read_also]
            extra += [s.teaser(lang) for s in links]
            phrases += [p for p in extra if p not in phrases]
        return phrases

    def _check_chrome(self) -> None:
        texts = [
            " ".join([s.data["title"], s.data["lead"], *s.data["paragraphs"]]).lower()
            for s in self._stories
        ]
        for phrase in self.chrome_phrases:
            for text in texts:
                if phrase.lower() in text:
                    raise ValueError(f"chrome phrase {phrase!r} occurs in an article text")

    # -- mutation -----------------------------------------------------------------------------

    def edit_article(
        self,
        article_id: int,
        *,
        title: str | None = None,
        add_paragraph: str | None = None,
        modified: str,
    ) -> ReplicaArticle:
        """Change an article's title and/or append a paragraph; its lastmod becomes `modified`."""
        datetime.fromisoformat(modified)  # fail early on a malformed timestamp
        with self._lock:
            page = next(s for s in self._stories if s.id == article_id)
            if page.kind in {"truncated", "photo"}:
                raise ValueError(f"article {article_id} ({page.kind}) cannot be edited")
            if title is not None:
                page.data["title"] = title
                page.article.title = title
            if add_paragraph is not None:
                page.data["paragraphs"].append(add_paragraph)
                page.article.paragraphs.append(add_paragraph)
            page.data["modified"] = modified
            page.article.modified = modified
            self._cache.clear()
            return page.article

    def reset_faults(self) -> None:
        """Make the 503-then-200 page fail its next first GET again."""
        with self._lock:
            self._flaky_served.clear()

    # -- answering ----------------------------------------------------------------------------

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        reply = self._reply(method, path)
        # A fresh Reply each time: callers may adjust it (its delay) without touching the cache.
        return Reply(reply.status, reply.body, dict(reply.headers), max(reply.delay, self.delay))

    def _reply(self, method: str, path: str) -> Reply:
        if path in self._redirects:
            status, target = self._redirects[path]
            return Reply(
                status,
                b"",
                {"Location": self.origin + target, "Content-Type": "text/html; charset=UTF-8"},
            )
        page = self._by_path.get(path)
        if page is not None and page.kind == "flaky":
            with self._lock:
                first = path not in self._flaky_served
                if first and method == "GET":
                    self._flaky_served.add(path)
            if first:
                return Reply(
                    503,
                    b"<html><head><title>503 Service Temporarily Unavailable</title></head>"
                    b"<body><center><h1>503 Service Temporarily Unavailable</h1></center>"
                    b"<hr><center>nginx</center></body></html>",
                    {"Content-Type": "text/html", "Retry-After": "1"},
                )
        special = self._special.get(path)
        if special == "pdf":
            return Reply(
                200,
                _FAKE_PDF,
                {
                    "Content-Type": "application/pdf",
                    "Content-Disposition": 'inline; filename="doklad.pdf"',
                },
            )
        if special == "empty":
            return Reply(200, b"", {"Content-Type": "text/html; charset=UTF-8"})
        if special in {"404", "410"}:
            return self._error_page(int(special))
        if page is None and not path.endswith("/") and path + "/" in self._routes():
            return Reply(301, b"", {"Location": self.origin + path + "/"})
        with self._lock:
            cached = self._cache.get(path)
            if cached is None:
                cached = self._render(path, page)
                self._cache[path] = cached
            return cached

    def _routes(self) -> set[str]:
        return {"/feed/", "/last-news/", *self._by_path}

    def _render(self, path: str, page: _Story | None) -> Reply:
        if page is not None:
            return self._article_reply(page)
        if path == "/robots.txt":
            body = (
                "User-agent: *\n"
                "Disallow: /wp-admin/\n"
                "Disallow: /search-results.html\n"
                "\n"
                f"Sitemap: {self.origin}/sitemap.xml\n"
            )
            return Reply(200, body.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        if path == "/feed/":
            return self._feed()
        if path == "/sitemap.xml":
            return self._sitemap_index()
        if path == "/sitemap/sitemap_news1.xml":
            return self._sitemap(newer=True)
        if path == "/sitemap/sitemap_news2.xml":
            return self._sitemap(newer=False)
        if path == "/last-news/":
            return self._last_news()
        return self._error_page(404)

    # -- feed, sitemaps, listing --------------------------------------------------------------

    def _newest(self, count: int, *, teaser: str = "") -> list[_Story]:
        """The newest ordinary articles (only those with a `teaser` text, if given)."""
        normal = [
            s for s in self._stories if s.kind == "normal" and (not teaser or teaser in s.data)
        ]
        return sorted(normal, key=lambda s: s.published, reverse=True)[:count]

    def _feed(self) -> Reply:
        items = []
        newest = self._newest(15)
        for s in newest:
            link = self.origin + s.path
            if s.article.aliases and "utm_" in s.article.aliases[0]:
                link += "?" + TRACKING_QUERY
            categories = "".join(
                f"\n\t\t<category><![CDATA[{c}]]></category>"
                for c in [s.data["rubric"], *s.data["tags"]]
            )
            items.append(
                "\t<item>\n"
                f"\t\t<title>{_esc(s.data['title'])}</title>\n"
                f"\t\t<link>{_esc(link)}</link>\n"
                f"\t\t<dc:creator><![CDATA[{s.data['author']}]]></dc:creator>\n"
                f"\t\t<pubDate>{format_datetime(s.published)}</pubDate>"
                f"{categories}\n"
                f'\t\t<guid isPermaLink="false">{self.origin}/?p={s.id}</guid>\n'
                f"\t\t<description><![CDATA[{s.data['lead']}]]></description>\n"
                "\t</item>\n"
            )
        built = max(newest, key=lambda s: datetime.fromisoformat(s.lastmod)).lastmod
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"\n'
            '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
            '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
            '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
            '\txmlns:atom="http://www.w3.org/2005/Atom"\n'
            '\txmlns:sy="http://purl.org/rss/1.0/modules/syndication/"\n'
            '\txmlns:slash="http://purl.org/rss/1.0/modules/slash/"\n'
            "\t>\n\n<channel>\n"
            "\t<title>Orda.kz</title>\n"
            f'\t<atom:link href="{self.origin}/feed/" rel="self" type="application/rss+xml" />\n'
            f"\t<link>{self.origin}</link>\n"
            "\t<description>Новости Казахстана: расследования, аналитика, мнения</description>\n"
            f"\t<lastBuildDate>{format_datetime(datetime.fromisoformat(built))}</lastBuildDate>\n"
            "\t<language>ru-RU</language>\n"
            "\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>\n"
            "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>\n"
            "\t<generator>https://wordpress.org/?v=5.8.3</generator>\n"
            + "".join(items)
            + "</channel>\n</rss>\n"
        )
        return Reply(
            200,
            body.encode("utf-8"),
            {
                "Content-Type": "application/rss+xml; charset=UTF-8",
                "Last-Modified": _http_date(built),
            },
        )

    def _sitemap_part(self, newer: bool) -> list[_Listed]:
        part = [
            entry
            for entry in self._listed
            if (datetime.fromisoformat(entry.published) >= NEWS2_BEFORE) == newer
        ]
        return sorted(part, key=lambda e: datetime.fromisoformat(e.published), reverse=True)

    @staticmethod
    def _latest(entries: list[_Listed]) -> str:
        return max((e.lastmod for e in entries), key=datetime.fromisoformat)

    def _sitemap_index(self) -> Reply:
        parts = [(n, self._sitemap_part(newer)) for n, newer in [(1, True), (2, False)]]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "".join(
                f"\t<sitemap>\n\t\t<loc>{self.origin}/sitemap/sitemap_news{n}.xml</loc>\n"
                f"\t\t<lastmod>{self._latest(entries)}</lastmod>\n\t</sitemap>\n"
                for n, entries in parts
            )
            + "</sitemapindex>\n"
        )
        latest = max((self._latest(e) for _, e in parts), key=datetime.fromisoformat)
        return self._xml(body, latest)

    def _sitemap(self, newer: bool) -> Reply:
        entries = self._sitemap_part(newer)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "".join(
                f"\t<url>\n\t\t<loc>{self.origin}{e.path}</loc>\n"
                f"\t\t<lastmod>{e.lastmod}</lastmod>\n\t</url>\n"
                for e in entries
            )
            + "</urlset>\n"
        )
        return self._xml(body, self._latest(entries))

    @staticmethod
    def _xml(body: str, lastmod: str) -> Reply:
        return Reply(
            200,
            body.encode("utf-8"),
            {
                "Content-Type": "application/xml; charset=UTF-8",
                "Last-Modified": _http_date(lastmod),
            },
        )

    def _last_news(self) -> Reply:
        newest = self._newest(20)
        items = "".join(
            f'<li><a href="{s.path}"><span class="newslist3__time">'
            f"{s.published:%d.%m.%Y, %H:%M}</span> "
            f'<span class="newslist3__title">{_esc(s.data["title"])}</span></a></li>\n'
            for s in newest
        )
        content = (
            '<div class="content">\n<h1 class="page__title">Последние новости</h1>\n'
            f'<div class="newslist3">\n<ul>\n{items}</ul>\n</div>\n'
            '<button class="newslist3__more" type="button" data-page="2">Загрузить ещё</button>\n'
            "</div>\n"
        )
        page = self._page(
            "ru",
            title="Последние новости - Orda.kz",
            head=self._simple_head("Последние новости", "/last-news/"),
            content=content,
            sidebar=self._sidebar("ru", self._newest(14, teaser="teaser")),
        )
        latest = max((s.lastmod for s in newest), key=datetime.fromisoformat)
        return Reply(
            200,
            page.encode("utf-8"),
            {"Content-Type": "text/html; charset=UTF-8", "Last-Modified": _http_date(latest)},
        )

    def _error_page(self, status: int) -> Reply:
        heading, text = {
            404: (
                "Страница не найдена",
                "Ошибка 404. Возможно, страница была удалена или вы ввели неверный адрес.",
            ),
            410: ("Материал удалён", "Этот материал снят с публикации по решению редакции."),
        }[status]
        content = (
            f'<div class="content error-page">\n<h1 class="page__title">{heading}</h1>\n'
            f'<p class="error-page__text">{text}</p>\n'
            '<p><a href="/" class="error-page__home">На главную</a></p>\n</div>\n'
        )
        page = self._page(
            "ru",
            title=f"{heading} - Orda.kz",
            head='<meta name="robots" content="noindex, follow">\n',
            content=content,
            sidebar=self._sidebar("ru", self._newest(14, teaser="teaser")),
        )
        return Reply(status, page.encode("utf-8"), {"Content-Type": "text/html; charset=UTF-8"})

    # -- article pages ------------------------------------------------------------------------

    def _article_reply(self, page: _Story) -> Reply:
        charset = {"cp1251": "windows-1251", "cp1251_bare": None}.get(page.kind, "utf-8")
        markup = self._article_html(page, charset)
        if page.kind == "huge":
            markup = self._pad(markup)
        encoding = "utf-8" if page.kind not in {"cp1251", "cp1251_bare"} else "cp1251"
        body = markup.encode(encoding)
        if page.kind == "truncated":
            body = self._truncate(markup, page).encode(encoding)
        content_type = {
            "cp1251": "text/html; charset=windows-1251",
            "cp1251_bare": "text/html",
        }.get(page.kind, "text/html; charset=UTF-8")
        return Reply(
            200,
            body,
            {
                "Content-Type": content_type,
                "Last-Modified": _http_date(page.lastmod),
                "Link": f"<{self.origin}/?p={page.id}>; rel=shortlink",
            },
        )

    def _truncate(self, markup: str, page: _Story) -> str:
        last = _esc(page.data["paragraphs"][-1])
        start = markup.index("<p>" + last) + len("<p>")
        cut = last.index(" ", len(last) // 2)
        return markup[: start + cut]

    def _rubric_label(self, page: _Story) -> str:
        return f"{_WORDS[page.lang]['section']} | {page.data['rubric']}"

    def _image(self, page: _Story) -> str:
        stamp = int(page.published.timestamp())
        words = "-".join(slugify(page.data["title"]).split("-")[:3])
        return f"/uploads/posts/{page.published:%Y-%m}/{stamp}_{words}.jpg"

    def _article_html(self, page: _Story, charset: str | None) -> str:
        d, lang, words = page.data, page.lang, _WORDS[page.lang]
        url = self.origin + page.path
        published, modified = d["published"], d.get("modified")
        rubric_slug = dict(_MENU[lang]).get(d["rubric"], slugify(d["rubric"]))
        section_slug = _MENU[lang][0][1]

        head = [
            f'<meta name="description" content="{_attr(d["lead"])}">',
            f'<meta name="author" content="{_attr(d["author"])}">',
            '<meta property="og:type" content="article">',
            '<meta property="og:site_name" content="Orda.kz">',
            f'<meta property="og:locale" content="{"ru_RU" if lang == "ru" else "kk_KZ"}">',
            f'<meta property="og:title" content="{_attr(d["title"])}">',
            f'<meta property="og:description" content="{_attr(d["lead"])}">',
            f'<meta property="og:image" content="{self.origin}{self._image(page)}">',
            '<meta property="og:image:width" content="1440">',
            '<meta property="og:image:height" content="810">',
            f'<meta property="og:url" content="{url}">',
            f'<meta property="article:published_time" content="{published}">',
        ]
        if modified:
            head.append(f'<meta property="article:modified_time" content="{modified}">')
        head.append(f'<meta property="article:section" content="{_attr(d["rubric"])}">')
        head += [f'<meta property="article:tag" content="{_attr(tag)}">' for tag in d["tags"]]
        head += [
            '<meta name="twitter:card" content="summary_large_image">',
            f'<link rel="canonical" href="{url}">',
            f'<link rel="shortlink" href="{self.origin}/?p={page.id}">',
            f'<script type="application/ld+json">{self._json_ld(page, url)}</script>',
        ]

        body = [f"<p>{_esc(d['lead'])}</p>"] if d["lead"] else []
        paragraphs = d["paragraphs"]
        for index, text in enumerate(paragraphs):
            if index == d.get("quote"):
                body.append(f"<blockquote><p>{_esc(text)}</p></blockquote>")
            else:
                body.append(f"<p>{_esc(text)}</p>")
            if index == 1 and page.read_also:
                body.append(
                    f"<p><b>{words['read_also']}</b> "
                    f'<a href="{page.read_also.path}">{_esc(page.read_also.teaser(lang))}</a></p>'
                )
            if index == max(len(paragraphs) - 2, 1):
                ad = f"adfox_{page.id}"
                body.append(
                    f'<div class="adv-inline" id="{ad}"></div>\n'
                    "<script>window.yaContextCb = window.yaContextCb || [];\n"
                    "window.yaContextCb.push(function () {\n"
                    f'  Ya.Context.AdvManager.render({{ renderTo: "{ad}", '
                    f'blockId: "R-A-1690482-{page.id % 7 + 1}", pageNumber: 2 }});\n'
                    "});</script>"
                )
        if paragraphs and page.related:
            body.append(
                "<ul>\n"
                + "".join(
                    f'<li><a href="{s.path}">{_esc(s.teaser(lang))}</a></li>\n'
                    for s in page.related
                )
                + "</ul>"
            )
        if not paragraphs:
            body = []  # a photo report: no text at all

        share_url = _attr(url)
        tags = ", ".join(
            f'<a href="/tag/{slugify(tag)}/" rel="tag">{_esc(tag)}</a>' for tag in d["tags"]
        )
        content = (
            '<div class="content post">\n'
            f'<div class="post__rubric"><a href="/category/{section_slug}/">'
            f"{words['section']}</a> | "
            f'<a href="/category/{rubric_slug}/">{_esc(d["rubric"])}</a></div>\n'
            f'<h1 class="post__title">{_esc(d["title"])}</h1>\n'
            '<div class="post__meta">'
            f'<time itemprop="datePublished" datetime="{published}">'
            f"{_display_date(published, lang)}</time>\n"
            f'<span class="post__author">{words["author"]} '
            f'<a href="/author/{slugify(d["author"])}/">{_esc(d["author"])}</a></span>\n'
            f'<span class="post__views" title="{words["views"]}">'
            f"{(page.id * 37) % 9000 + 800}</span></div>\n"
            '<div class="postpic">'
            f'<img src="{self._image(page)}" alt="{_attr(d["title"])}" width="1440" height="810">'
            f'<div class="postpic__caption">{_esc(d["caption"])}</div></div>\n'
            '<div class="fulltext">\n<div class="newstext">\n' + "\n".join(body) + "\n</div>\n"
            f'<div class="post__tags">{words["tags"]} {tags}</div>\n'
            f'<div class="share">{words["share"]} '
            f'<a href="https://www.facebook.com/sharer/sharer.php?u={share_url}" '
            'rel="nofollow" target="_blank">Facebook</a> '
            f'<a href="https://t.me/share/url?url={share_url}" rel="nofollow" '
            'target="_blank">Telegram</a> '
            f'<a href="https://api.whatsapp.com/send?text={share_url}" rel="nofollow" '
            'target="_blank">WhatsApp</a> '
            f'<a href="https://twitter.com/intent/tweet?url={share_url}" rel="nofollow" '
            'target="_blank">X</a></div>\n'
            f'<div class="subscribe">{words["subscribe"]}</div>\n'
            "</div>\n"
            f'<section class="popular"><h2 class="popular__title">{words["popular"]}</h2>\n'
            '<ul class="popular__list">\n'
            + "".join(
                f'<li class="popular__item"><a href="{s.path}">'
                f'<img src="{self._image(s)}" alt="" loading="lazy">'
                f"<span>{_esc(s.teaser(lang))}</span></a></li>\n"
                for s in page.popular
            )
            + "</ul></section>\n</div>\n"
        )
        return self._page(
            lang,
            title=f"{d['title']} - Orda.kz",
            head="\n".join(head) + "\n",
            content=content,
            sidebar=self._sidebar(lang, page.sidebar),
            charset=charset,
        )

    def _json_ld(self, page: _Story, url: str) -> str:
        d = page.data
        author_type = "Organization" if d["author"].startswith("Редакция") else "Person"
        data = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "mainEntityOfPage": {"@type": "WebPage", "@id": url},
            "headline": d["title"],
            "description": d["lead"],
            "image": [self.origin + self._image(page)],
            "datePublished": d["published"],
            # Only a modified article declares dateModified, so the page and the ground truth
            # (ReplicaArticle.modified is None otherwise) agree.
            **({"dateModified": d["modified"]} if d.get("modified") else {}),
            "author": {"@type": author_type, "name": d["author"]},
            "publisher": {
                "@type": "Organization",
                "name": "Orda.kz",
                "logo": {"@type": "ImageObject", "url": f"{self.origin}/static/img/logo.png"},
            },
            "inLanguage": page.lang,
        }
        return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")

    def _simple_head(self, title: str, path: str) -> str:
        return (
            f'<meta name="description" content="{_attr(title)} — Orda.kz">\n'
            f'<link rel="canonical" href="{self.origin}{path}">\n'
        )

    def _sidebar(self, lang: str, stories: list[_Story]) -> str:
        words = _WORDS[lang]
        items = "".join(
            f'<li class="lenta__item"><span class="lenta__time">'
            f"{s.published:%d.%m.%Y %H:%M}</span> "
            f'<a href="{s.path}">{_esc(s.teaser(lang))}</a></li>\n'
            for s in stories
        )
        return (
            '<aside class="sidebar">\n'
            f'<div class="sidebar__title">{words["lenta"]}</div>\n'
            f'<ul class="lenta">\n{items}</ul>\n'
            f'<a class="lenta__more" href="/last-news/">{words["all_news"]}</a>\n'
            "</aside>\n"
        )

    def _page(
        self,
        lang: str,
        *,
        title: str,
        head: str,
        content: str,
        sidebar: str,
        charset: str | None = "utf-8",
    ) -> str:
        """A whole HTML page: head, header, content, sidebar, footer and cookie banner."""
        words = _WORDS[lang]
        menu = "".join(
            f'<li class="menu__item"><a href="/category/{slug}/">{name}</a></li>'
            for name, slug in _MENU[lang]
        )
        footer_menu = "".join(
            f'<li><a href="{href}">{name}</a></li>' for name, href in words["footer_menu"]
        )
        contacts = "".join(f"<p>{line}</p>" for line in words["contacts"])
        meta_charset = f'<meta charset="{charset}">\n' if charset else ""
        return (
            f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n{meta_charset}'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta http-equiv="X-UA-Compatible" content="IE=edge">\n'
            f"<title>{_esc(title)}</title>\n"
            + head
            + f'<link rel="alternate" type="application/rss+xml" title="Orda.kz" '
            f'href="{self.origin}/feed/">\n'
            '<link rel="icon" href="/static/img/favicon.ico">\n'
            '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>\n'
            '<link rel="stylesheet" href="/static/css/main.min.css?v=2.4.1">\n'
            "<style>.cookie-banner{position:fixed;bottom:0;left:0;right:0;z-index:99;"
            "background:#1d1d1f;color:#fff;padding:16px}.postpic img{width:100%;height:auto}"
            ".newstext p{margin:0 0 1em;font-size:18px;line-height:1.6}"
            ".lenta__time{color:#8a8a8a;font-size:13px}.menu__list{display:flex;gap:18px}</style>\n"
            '<script async src="https://www.googletagmanager.com/gtag/js?id=G-8QX2ORDA01"></script>\n'
            "<script>window.dataLayer = window.dataLayer || [];\n"
            "function gtag(){dataLayer.push(arguments);}\n"
            "gtag('js', new Date()); gtag('config', 'G-8QX2ORDA01');</script>\n"
            '<script type="text/javascript">(function(m,e,t,r,i,k,a){m[i]=m[i]||function()'
            "{(m[i].a=m[i].a||[]).push(arguments)};m[i].l=1*new Date();k=e.createElement(t),"
            "a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})"
            '(window, document, "script", "https://mc.yandex.ru/metrika/tag.js", "ym");\n'
            'ym(71234567, "init", {clickmap:true, trackLinks:true, accurateTrackBounce:true});'
            "</script>\n"
            "<script>window.yaContextCb = window.yaContextCb || []</script>\n"
            '<script src="https://yandex.ru/ads/system/context.js" async></script>\n'
            "</head>\n"
            f'<body class="{"lang-kk" if lang == "kk" else "lang-ru"}">\n'
            '<header class="header">\n<div class="header__top container">\n'
            '<a class="header__logo" href="/"><img src="/static/img/logo.svg" alt="Orda.kz" '
            'width="120" height="40"></a>\n'
            '<div class="header__lang"><a href="/" class="active">RU</a> | '
            '<a href="/kz/">KZ</a> | <a href="/en/">EN</a></div>\n'
            '<form class="header__search" action="/search-results.html" method="get">'
            f'<input type="text" name="q" placeholder="{words["search"]}">'
            f'<button type="submit">{words["find"]}</button></form>\n'
            "</div>\n"
            f'<nav class="menu container"><ul class="menu__list">{menu}'
            f'<li class="menu__item menu__item--all"><a href="/last-news/">{words["all_news"]}'
            "</a></li></ul></nav>\n"
            "</header>\n"
            '<main class="main container">\n' + content + sidebar + "</main>\n"
            '<footer class="footer">\n<div class="container footer__inner">\n'
            '<div class="footer__col"><a class="footer__logo" href="/">'
            '<img src="/static/img/logo-white.svg" alt="Orda.kz" width="120" height="40"></a>'
            f'<p class="footer__about">{words["about"]}</p></div>\n'
            f'<div class="footer__col"><ul class="footer__menu">{footer_menu}</ul></div>\n'
            f'<div class="footer__col footer__contacts">{contacts}'
            '<p class="footer__social"><a href="https://t.me/orda_kz" rel="nofollow">Telegram</a> '
            '<a href="https://www.instagram.com/orda.kz/" rel="nofollow">Instagram</a> '
            '<a href="https://www.facebook.com/orda.kz" rel="nofollow">Facebook</a> '
            '<a href="https://www.youtube.com/@ordakz" rel="nofollow">YouTube</a></p></div>\n'
            "</div>\n"
            '<div class="container footer__legal">\n'
            f"<p>{words['certificate']}</p>\n<p>{words['copyright']}</p>\n"
            f"<p>{words['disclaimer']}</p>\n"
            "</div>\n</footer>\n"
            f'<div class="cookie-banner" id="cookie-banner"><p>{words["cookie"]}</p>'
            f'<button type="button" class="cookie-banner__accept">{words["accept"]}</button>'
            "</div>\n"
            '<script src="/static/js/app.min.js?v=2.4.1" defer></script>\n'
            "</body>\n</html>\n"
        )

    def _pad(self, markup: str) -> str:
        """Grow a page to about HUGE_PAGE_BYTES with an archive block of teasers in the sidebar."""
        rng = random.Random(400560)
        cities = [
            "В Караганде", "В Актобе", "В Павлодаре", "В Таразе", "В Семее", "В Костанае",
            "В Уральске", "В Кызылорде", "В Атырау", "В Туркестане", "В Петропавловске",
            "В Экибастузе", "В Талдыкоргане", "В Кокшетау", "В Усть-Каменогорске", "В Темиртау",
        ]  # fmt: skip
        events = [
            "отремонтируют дороги в частном секторе", "открыли новую школу на 1200 мест",
            "построят спортивный комплекс", "прошла ярмарка выходного дня",
            "обновят парк автобусов", "подвели итоги конкурса молодых художников",
            "открылся центр поддержки семей", "запустили новый автобусный маршрут",
            "высадят тысячу деревьев", "проверят качество питьевой воды",
            "заработала новая поликлиника", "выбрали лучших учителей года",
            "ограничат движение грузовиков в центре", "отметили юбилей городского театра",
            "появится новый каток",
        ]  # fmt: skip
        when = ["", " в этом году", " к весне", " до конца года", " летом"]
        tags = ["regiony", "obshhestvo", "gorod", "infrastruktura", "kultura", "sport"]
        size = len(markup.encode("utf-8"))
        items = []
        while size < HUGE_PAGE_BYTES:
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            headline = f"{rng.choice(cities)} {rng.choice(events)}{rng.choice(when)}"
            item = (
                f'<li class="archive__item"><a href="/tag/{rng.choice(tags)}/">'
                f'<img src="/uploads/posts/2021-{month:02d}/sizes/320x180/'
                f'{rng.getrandbits(64):016x}.webp" alt="" loading="lazy" width="320" height="180">'
                f'<span class="archive__date">{day:02d}.{month:02d}.2021</span>'
                f'<span class="archive__title">{headline}</span></a></li>\n'
            )
            items.append(item)
            size += len(item.encode("utf-8"))
        block = (
            '<div class="archive"><div class="sidebar__title">Архив материалов</div>\n'
            '<ul class="archive__list">\n' + "".join(items) + "</ul></div>\n"
        )
        return markup.replace("</aside>\n", block + "</aside>\n", 1)
