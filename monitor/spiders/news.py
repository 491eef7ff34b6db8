"""The generic news spider: discovers an outlet's articles from its registry entry alone.

Discovery reads the entry's feeds (RSS or Atom), sitemaps (indexes and urlsets, with
`lastmod`) and listing pages. Incremental by design: an article already stored (under its
URL, or a URL that once led to it) is fetched again only when the sitemap's `lastmod` is newer
than the stored copy; a page that failed for good (404, 410, not HTML) is not fetched again;
feeds and sitemaps are requested conditionally (ETag / Last-Modified).

    scrapy crawl news -a outlet=tengrinews [-a base_url=http://127.0.0.1:8000] [-a since=2022-01-01]
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import scrapy
from lxml import etree
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from twisted.python.failure import Failure

from monitor import dates, db, outlets
from monitor.errors import MonitorError
from monitor.items import Page, PageFailure
from monitor.middlewares import REFUSED
from monitor.urls import clean_url

PERMANENT_STATUSES = {404, 410}
DISCOVERY_PRIORITY = 100


class NewsSpider(scrapy.Spider):
    name = "news"
    outlet_slug: str | None = None  # set by outlet-specific subclasses

    def __init__(
        self,
        outlet: str | None = None,
        base_url: str | None = None,
        since: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.args = {"outlet": outlet, "base_url": base_url, "since": since}
        self.crawl_id: int | None = None
        self.crawl_status = "ok"
        self.validators: dict[str, tuple[str | None, str | None]] = {}
        self.requested: set[str] = set()
        self.retry_sources: set[str | None] = set()

    # -- set-up -----------------------------------------------------------------------------

    @classmethod
    def resolve(
        cls,
        settings: BaseSettings,
        outlet: str | None = None,
        base_url: str | None = None,
        since: str | None = None,
        **extra: Any,
    ) -> tuple[outlets.Outlet, datetime]:
        """Check the spider arguments against the registry; return the outlet and `since`."""
        unknown = set(extra) - set(cls.extra_arguments)
        if unknown:
            known = ", ".join(["outlet", "base_url", "since", *cls.extra_arguments])
            raise MonitorError(f"unknown spider argument {sorted(unknown)[0]!r} (known: {known})")
        slug = outlet or cls.outlet_slug
        registry = outlets.load(settings.get("MONITOR_OUTLETS"))
        if not slug:
            raise MonitorError(
                f"the {cls.name} spider needs -a outlet=SLUG; outlets: {', '.join(registry)}"
            )
        if slug not in registry:
            raise MonitorError(f"unknown outlet {slug!r}; outlets: {', '.join(registry)}")
        entry = registry[slug]
        if cls.outlet_slug is None and entry.spider != cls.name:
            raise MonitorError(
                f"outlet {slug!r} has its own spider: use `scrapy crawl {entry.spider}`"
            )
        if base_url is not None:
            entry = entry.with_base_url(base_url)
        start = dates.parse_since(since, settings.getint("MONITOR_SINCE_DAYS", 3))
        return entry, start

    extra_arguments: tuple[str, ...] = ()

    @classmethod
    def check_arguments(cls, settings: BaseSettings, **kwargs: Any) -> None:
        """Validate arguments and the database before any request (used by `scrapy crawl`)."""
        cls.resolve(settings, **kwargs)
        db.open_db(settings.get("MONITOR_DB")).close()

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.outlet, spider.since = cls.resolve(crawler.settings, **spider.args)
        spider.allowed_domains = [spider.outlet.host.split(":")[0]]
        spider.db = db.open_db(crawler.settings.get("MONITOR_DB"))
        return spider

    # -- discovery --------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.logger.info(
            "crawling %s (%s) for articles since %s",
            self.outlet.slug,
            self.outlet.base_url,
            dates.iso(self.since),
        )
        for path in self.outlet.feeds:
            yield self.discovery_request(self.outlet.url(path), self.parse_feed)
        for path in self.outlet.sitemaps:
            yield self.discovery_request(
                self.outlet.url(path), self.parse_sitemap, conditional=False
            )
        for path in self.outlet.listings:
            yield self.discovery_request(self.outlet.url(path), self.parse_listing)

    def discovery_request(
        self,
        url: str,
        callback: Any,
        *,
        conditional: bool = True,
        cb_kwargs: dict[str, Any] | None = None,
    ) -> scrapy.Request:
        """A feed, sitemap or listing request, conditional when validators are known."""
        headers = {}
        state = db.fetch_state(self.db, url) if conditional else None
        # Validators count only if the crawl that read the page in full reached back as far.
        if state and state["since"] and dates.parse_datetime(state["since"]) <= self.since:
            if state["etag"]:
                headers["If-None-Match"] = state["etag"]
            if state["last_modified"]:
                headers["If-Modified-Since"] = state["last_modified"]
        return scrapy.Request(
            url,
            callback=self._discovered(callback),
            errback=self.on_discovery_error,
            headers=headers,
            priority=DISCOVERY_PRIORITY,
            dont_filter=True,
            meta={"handle_httpstatus_list": [304], "discovery": True},
            cb_kwargs=cb_kwargs,
        )

    def _discovered(self, callback: Any) -> Any:
        def handle(response: Response, **kwargs: Any) -> Iterable[Any]:
            self.crawler.stats.inc_value("monitor/discovery_ok")
            if response.status == 304:
                self.crawler.stats.inc_value("monitor/not_modified")
                return []
            etag = response.headers.get("ETag")
            modified = response.headers.get("Last-Modified")
            if etag or modified:
                self.validators[response.url] = (
                    etag.decode("latin-1") if etag else None,
                    modified.decode("latin-1") if modified else None,
                )
            return callback(response, **kwargs)

        handle.__name__ = callback.__name__
        return handle

    def read_xml(self, response: Response, kind: str) -> etree._Element | PageFailure:
        """A feed's or sitemap's XML tree, or the failure to record when it is unreadable: not
        XML, or bigger than DOWNLOAD_MAXSIZE once decompressed (a gzip bomb)."""
        max_size = response.meta.get("download_maxsize") or self.settings.getint("DOWNLOAD_MAXSIZE")
        try:
            return _xml(response.body, max_size)
        except _Unreadable as exc:
            # Not a discovery page that answered: its validators are not kept, and a crawl
            # whose every feed and sitemap is unreadable is a failed crawl.
            self.validators.pop(response.url, None)
            self.crawler.stats.inc_value("monitor/discovery_ok", -1)
            return self.failure(response.url, response.status, f"{kind} {exc}", False)

    def parse_feed(self, response: Response) -> Iterable[Any]:
        """RSS 2.0 items or Atom entries."""
        root = self.read_xml(response, "feed")
        if isinstance(root, PageFailure):
            yield root
            return
        for item in root.iter("item", "entry"):
            link = _child_text(item, "link")
            if not link:
                links = [el.get("href") for el in item.iter("link") if el.get("href")]
                link = links[0] if links else None
            when = _child_text(item, "pubDate", "published", "updated", "date")
            request = self.article_request(link, dates.parse_datetime(when), response.url)
            if request:
                yield request

    def parse_sitemap(self, response: Response) -> Iterable[Any]:
        """A sitemap index (children followed) or a urlset (articles requested)."""
        root = self.read_xml(response, "sitemap")
        if isinstance(root, PageFailure):
            yield root
            return
        kind = root.tag
        for entry in root:
            loc = _child_text(entry, "loc")
            if not loc:
                continue
            lastmod = dates.parse_datetime(_child_text(entry, "lastmod"))
            if kind == "sitemapindex":
                if self.keep_sitemap(loc, lastmod):
                    try:
                        url = urljoin(response.url, loc)
                        yield self.discovery_request(url, self.parse_sitemap)
                    except ValueError:  # not a URL (a bad port, a broken IPv6 address)
                        self.crawler.stats.inc_value("monitor/skipped_bad_url")
            else:
                request = self.article_request(loc, lastmod, response.url)
                if request:
                    yield request

    def keep_sitemap(self, url: str, lastmod: datetime | None) -> bool:
        """Whether a child sitemap can hold articles at or after `since`."""
        return lastmod is None or lastmod >= self.since

    def parse_listing(self, response: Response) -> Iterable[Any]:
        """Every link on a listing page that is an article URL of this outlet."""
        if not isinstance(response, TextResponse):
            return
        for href in response.css("a::attr(href)").getall():
            try:
                url = response.urljoin(href)
            except ValueError:  # not a URL (a broken IPv6 address)
                continue
            request = self.article_request(url, None, response.url)
            if request:
                yield request

    # -- articles ---------------------------------------------------------------------------

    def article_request(
        self, url: str | None, lastmod: datetime | None, found_on: str
    ) -> scrapy.Request | None:
        """A request for an article page, or None when it is old, known or not an article."""
        stats = self.crawler.stats
        if not url:
            return None
        try:
            url = clean_url(urljoin(found_on, url.strip()))
        except ValueError:  # not a URL (a broken IPv6 address)
            stats.inc_value("monitor/skipped_bad_url")
            return None
        if not self.outlet.is_article(url):
            stats.inc_value("monitor/skipped_not_article")
            return None
        if lastmod is not None and lastmod < self.since:
            stats.inc_value("monitor/skipped_old")
            return None
        known = db.find_article(self.db, url)
        if known is not None:
            stored = max(
                (
                    d
                    for d in map(
                        dates.parse_datetime,
                        (known["lastmod"], known["modified"], known["published"]),
                    )
                    if d is not None
                ),
                default=None,
            )
            if lastmod is None or (stored is not None and lastmod <= stored):
                stats.inc_value("monitor/skipped_known")
                return None
            stats.inc_value("monitor/refetch_lastmod")
        elif db.is_dead(self.db, url, lastmod):
            stats.inc_value("monitor/skipped_dead")
            return None
        if url in self.requested:
            return None
        # Duplicates are filtered here, not by Scrapy's filter: that one would silently drop a
        # redirect that leads back to a URL already requested, and a redirect loop must end in
        # "too many redirects", recorded as a failure.
        try:
            request = scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_article_error,
                meta={"lastmod": dates.iso(lastmod), "found_on": found_on},
                dont_filter=True,
            )
        except ValueError:  # not a URL Scrapy can request (a bad port)
            stats.inc_value("monitor/skipped_bad_url")
            return None
        self.requested.add(url)
        return request

    def parse_article(self, response: Response) -> Iterable[Any]:
        """Hand the raw page to the extraction pipeline."""
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        if not isinstance(response, TextResponse) or not _is_html(content_type, response.body):
            reason = f"not an HTML page ({content_type.split(';')[0] or 'no content type'})"
            yield self.failure(response.url, response.status, reason, True)
            return
        if not response.body.strip():
            yield self.failure(response.url, response.status, "empty body", True)
            return
        requested = [*response.request.meta.get("redirect_urls", []), response.request.url]
        yield Page(
            url=clean_url(response.url),
            body=response.body,
            content_type=content_type,
            outlet=self.outlet.slug,
            status=response.status,
            lastmod=response.meta.get("lastmod"),
            requested=[clean_url(u) for u in requested],
        )

    # -- failures ---------------------------------------------------------------------------

    def failure(self, url: str, status: int | None, reason: str, permanent: bool) -> PageFailure:
        return PageFailure(url=url, status=status, reason=reason, permanent=permanent)

    def on_article_error(self, failure: Failure) -> Iterable[Any]:
        if self._forbidden(failure):
            return
        described = self._describe(failure, article=True)
        if not described.permanent and failure.request is not None:
            # Ask again next time: the page that listed it must not answer 304 then.
            self.retry_sources.add(failure.request.meta.get("found_on"))
        yield described

    def on_discovery_error(self, failure: Failure) -> Iterable[Any]:
        if self._forbidden(failure):
            return
        yield self._describe(failure, article=False)

    def _forbidden(self, failure: Failure) -> bool:
        """robots.txt said no: the site's wish, not a failure; counted and logged only."""
        if failure.check(IgnoreRequest) and str(failure.value).startswith("Forbidden by robots"):
            self.crawler.stats.inc_value("monitor/robots_forbidden")
            self.logger.info("not fetched, forbidden by robots.txt: %s", failure.request.url)
            return True
        return False

    def _describe(self, failure: Failure, *, article: bool) -> PageFailure:
        request = failure.request if hasattr(failure, "request") else None
        url = request.url if request is not None else "?"
        if failure.check(IgnoreRequest) and str(failure.value).startswith(REFUSED):
            # Off the outlet's hosts (monitor/hosts.py): recorded under the URL the outlet
            # gave, which a redirect or a meta refresh led away from; tried again next time
            # (the registry's allowed_hosts may have been changed meanwhile).
            first = (request.meta.get("redirect_urls") or [url])[0] if request else url
            return self.failure(first, None, str(failure.value)[:300], False)
        if failure.check(HttpError):
            status = failure.value.response.status
            permanent = article and status in PERMANENT_STATUSES
            return self.failure(url, status, f"HTTP {status}", permanent)
        message = str(failure.value) or type(failure.value).__name__
        name = type(failure.value).__name__
        if "max redirections" in message.lower() or "redirect" in name.lower():
            reason = f"redirect loop or too many redirects ({message})"
        elif "timeout" in name.lower() or "timed out" in message.lower():
            reason = f"timeout ({name})"
            limit = self.crawler.settings.getint("MONITOR_TIMEOUTS_BEFORE_DEAD", 3)
            if article and db.timeouts_in_a_row(self.db, url) + 1 >= limit:
                # A page that never answers in time costs every crawl its timeouts and
                # retries: given up until its sitemap lastmod says it changed.
                reason += f", {limit} in a row: not fetched again until it changes"
                return self.failure(url, None, reason, True)
        elif (
            "maxsize" in message.lower()
            or "max size" in message.lower()
            or "cancelled" in name.lower()
        ):
            reason = f"response too large or cancelled ({message[:120]})"
        else:
            reason = f"{name}: {message[:200]}"
        return self.failure(url, None, reason, article and "redirect" in reason)


class _Unreadable(Exception):
    """A feed or sitemap that cannot be read; the message says why, after "feed "."""


def _xml(body: bytes, max_size: int) -> etree._Element:
    """The XML tree of a feed or sitemap, gunzipped (at most `max_size` bytes) if need be."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip(body, max_size=max_size)
        except ValueError:  # Scrapy's "decompressed size over max_size"
            raise _Unreadable(f"is over {max_size} bytes once decompressed") from None
        except (OSError, EOFError, struct.error, zlib.error):
            raise _Unreadable("is not valid gzip") from None
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(recover=True, resolve_entities=False))
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        raise _Unreadable("is not XML")
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            try:
                el.tag = el.tag.split("}", 1)[1]
            except ValueError:  # a broken name the parser recovered ("{ns}news:"): left as is
                pass
    return root


def _child_text(el: etree._Element, *names: str) -> str | None:
    for name in names:
        for child in el:
            if isinstance(child.tag, str) and child.tag.split(":")[-1] == name:
                text = (child.text or "").strip()
                if text:
                    return text
    return None


def _is_html(content_type: str, body: bytes) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return True
    if kind in ("", "text/plain", "application/octet-stream"):
        head = body[:512].lstrip().lower()
        return head.startswith((b"<!doctype html", b"<html")) or b"<body" in body[:4096].lower()
    return False
