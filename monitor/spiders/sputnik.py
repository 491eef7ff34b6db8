"""Sputnik Kazakhstan, Russian (ru.sputnik.kz) and Kazakh (sputnik.kz) editions.

Besides the generic discovery, the Rossiya Segodnya platform needs two things of its own:
the article sitemap index lists date-range children
(`sitemap_article.xml?date_start=YYYYMMDD&date_end=YYYYMMDD`), of which only the ranges that
reach `since` are requested; and the /news/ listing continues through "load more" fragments
(`.list__more[data-url]`, then `.list-items-loaded[data-next-url]`), followed while their
items are at or after `since`.

    scrapy crawl sputnik_ru [-a base_url=...] [-a since=2022-01-01]
    scrapy crawl sputnik_kz [-a base_url=...] [-a since=2022-01-01]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scrapy.http import Response, TextResponse

from monitor import dates
from monitor.spiders.news import NewsSpider

MAX_MORE_PAGES = 50


class SputnikSpider(NewsSpider):
    name = None  # not a spider of its own: the editions below are

    def keep_sitemap(self, url: str, lastmod: datetime | None) -> bool:
        end = parse_qs(urlsplit(url).query).get("date_end")
        if end:
            last_day = dates.parse_datetime(f"{end[0]}T2359")
            return last_day is None or last_day >= self.since
        return super().keep_sitemap(url, lastmod)

    def parse_listing(self, response: Response, page: int = 1) -> Iterable[Any]:
        """The /news/ list and its "load more" fragments, newest first."""
        if not isinstance(response, TextResponse):
            return
        oldest = None
        for item in response.css(".list__item"):
            href = item.css("a.list__title::attr(href), a::attr(href)").get()
            when = dates.parse_datetime(item.css("[data-unixtime]::attr(data-unixtime)").get())
            oldest = when if when and (oldest is None or when < oldest) else oldest
            try:
                url = response.urljoin(href) if href else None
            except ValueError:  # not a URL (a broken IPv6 address)
                continue
            request = self.article_request(url, when, response.url)
            if request:
                yield request
        more = response.css(
            ".list-items-loaded::attr(data-next-url), .list__more::attr(data-url)"
        ).get()
        if more and page < MAX_MORE_PAGES and (oldest is None or oldest >= self.since):
            try:
                url = response.urljoin(more)
                yield self.discovery_request(url, self.parse_listing, cb_kwargs={"page": page + 1})
            except ValueError:  # not a URL (a bad port, a broken IPv6 address)
                self.crawler.stats.inc_value("monitor/skipped_bad_url")


class SputnikRuSpider(SputnikSpider):
    name = "sputnik_ru"
    outlet_slug = "sputnik_ru"


class SputnikKzSpider(SputnikSpider):
    name = "sputnik_kz"
    outlet_slug = "sputnik_kz"
