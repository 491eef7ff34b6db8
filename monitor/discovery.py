"""Discovery of a new outlet: its feeds, sitemaps, article URL pattern and sample articles.

`monitor outlet check URL` uses it to write a registry entry from a site's home page: feeds from
the page's `<link rel="alternate">` (trafilatura's feed discovery) or the usual feed addresses,
sitemaps from robots.txt (trafilatura's reader) or the usual addresses, the article URLs those
list, an `article_pattern` induced from their paths, and a few articles extracted as a crawl
would. Requests are few, sequential and polite: robots.txt is obeyed, the User-Agent is the
crawl's, each response is capped in size and time.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from trafilatura.feeds import FeedParameters, determine_feed
from trafilatura.sitemaps import extract_robots_sitemaps

from monitor import extraction, settings
from monitor.errors import MonitorError

FEED_GUESSES = ("/feed/", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/rss/")
SITEMAP_GUESSES = ("/sitemap.xml", "/sitemap_index.xml", "/sitemap-index.xml")
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 20
MAX_CHILD_SITEMAPS = 3
MAX_URLS = 2000

_DIGITS = re.compile(r"^\d+$")
_SLUG_ID = re.compile(r"^[a-z0-9%_.-]*[a-z%_.-][a-z0-9%_.-]*-\d+$")
_SLUG = re.compile(r"^[a-z0-9%_-]+$")
_EXT = re.compile(r"^(.+)(\.[a-z]{2,5})$")


@dataclass
class Report:
    """What was found about an outlet."""

    base_url: str
    robots: bool = False
    feeds: list[str] = field(default_factory=list)  # paths
    sitemaps: list[str] = field(default_factory=list)  # paths
    listings: list[str] = field(default_factory=list)  # paths
    article_urls: list[str] = field(default_factory=list)
    article_pattern: str | None = None
    coverage: float = 0.0  # share of the article URLs the pattern matches
    samples: list[dict[str, Any]] = field(default_factory=list)
    lang: str | None = None
    notes: list[str] = field(default_factory=list)


class Fetcher:
    """Sequential, polite GETs for one site: robots.txt first, a delay between requests."""

    def __init__(self, base_url: str, delay: float = 1.0, user_agent: str | None = None):
        self.base_url = base_url
        self.delay = delay
        self.user_agent = user_agent or settings.USER_AGENT
        self.robots = urllib.robotparser.RobotFileParser()
        self.robots_text: str | None = None
        self.requests = 0
        self._last = 0.0

    def get(self, url: str) -> tuple[int, bytes, str | None]:
        """(status, body, content type) of `url`; status 0 when the network failed."""
        wait = self._last + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()
        self.requests += 1
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                body = response.read(MAX_BYTES + 1)[:MAX_BYTES]
                return response.status, body, response.headers.get("Content-Type")
        except urllib.error.HTTPError as exc:
            return exc.code, b"", None
        except (urllib.error.URLError, OSError, ValueError):
            return 0, b"", None

    def read_robots(self) -> None:
        status, body, _ = self.get(urljoin(self.base_url, "/robots.txt"))
        self.robots_text = body.decode("utf-8", "replace") if status == 200 else None
        self.robots.parse((self.robots_text or "").splitlines())

    def allowed(self, url: str) -> bool:
        return self.robots_text is None or self.robots.can_fetch(self.user_agent, url)


def _xml(body: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except (etree.XMLSyntaxError, ValueError):
        return None


def _local(tag: Any) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def feed_links(root: etree._Element) -> list[str]:
    """Item links of an RSS or Atom document."""
    found = []
    for el in root.iter():
        name = _local(el.tag)
        if name == "link" and _local(el.getparent().tag) in ("item", "entry"):
            href = el.get("href") or (el.text or "").strip()
            if href:
                found.append(href)
    return found


def sitemap_entries(root: etree._Element) -> tuple[str, list[tuple[str, str]]]:
    """('index' or 'urlset', [(loc, lastmod)])."""
    kind = "index" if _local(root.tag) == "sitemapindex" else "urlset"
    entries = []
    for el in root:
        loc = lastmod = ""
        for child in el:
            if _local(child.tag) == "loc":
                loc = (child.text or "").strip()
            elif _local(child.tag) == "lastmod":
                lastmod = (child.text or "").strip()
        if loc:
            entries.append((loc, lastmod))
    return kind, entries


def _segment_shape(segment: str) -> str:
    if _DIGITS.match(segment):
        if len(segment) == 4 and segment[:2] in ("19", "20"):
            return r"\d{4}"
        return r"\d{2}" if len(segment) == 2 else r"\d+"
    ext = _EXT.match(segment)
    stem, suffix = (ext.group(1), re.escape(ext.group(2))) if ext else (segment, "")
    if _DIGITS.match(stem):
        return r"\d+" + suffix
    if _SLUG_ID.match(stem):
        return r"[a-z0-9%_-]+-\d+" + suffix
    if re.match(r"^\d+-[a-z0-9%_-]+$", stem):
        return r"\d+-[a-z0-9%_-]+" + suffix
    if _SLUG.match(stem):
        return "SLUG" + suffix
    return ""


def induce_pattern(paths: Iterable[str]) -> tuple[str | None, float]:
    """An `article_pattern` that the most article paths share, and the share it matches.

    Each path segment becomes a shape (digits, a slug ending in an id, a slug); a slug position
    whose value is the same in nine paths of ten stays literal (a section name), else any slug.
    """
    paths = [p for p in paths if p and p != "/"]
    if not paths:
        return None, 0.0
    shapes: dict[tuple[str, ...], list[list[str]]] = {}
    for path in paths:
        segments = [s for s in path.lower().split("/") if s]
        shape = tuple(_segment_shape(s) for s in segments)
        if segments and all(shape):
            shapes.setdefault(shape, []).append(segments)
    if not shapes:
        return None, 0.0
    shape, members = max(shapes.items(), key=lambda item: len(item[1]))
    parts = []
    for i, part in enumerate(shape):
        if part.startswith("SLUG"):
            value, count = Counter(m[i] for m in members).most_common(1)[0]
            if len(members) >= 3 and count >= 0.9 * len(members):
                part = re.escape(value)  # a section every article is in: /news/
            else:
                part = "[a-z0-9%_-]+" + part[len("SLUG") :]
        parts.append(part)
    pattern = "^/" + "/".join(parts) + "/?$"
    compiled = re.compile(pattern)
    share = sum(bool(compiled.match(p.lower())) for p in paths) / len(paths)
    return pattern, share


def check(
    url: str,
    samples: int = 5,
    delay: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Discover feeds, sitemaps, the article pattern and sample articles of the site at `url`."""
    say = progress or (lambda message: None)
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MonitorError(f"{url!r} is not a web address (http:// or https://)")
    base = f"{parts.scheme}://{parts.netloc}"
    start = base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    report = Report(base_url=base)
    fetch = Fetcher(base, delay=delay)
    say(f"reading {base}/robots.txt")
    fetch.read_robots()
    report.robots = fetch.robots_text is not None
    if not fetch.allowed(start):
        raise MonitorError(f"robots.txt of {base} forbids crawling {start}")
    say(f"reading {start}")
    status, home, content_type = fetch.get(start)
    if status == 0:
        raise MonitorError(f"{base} did not answer (network error)")
    if status != 200:
        raise MonitorError(f"{start} answered HTTP {status}; give the address of its home page")
    home_html = extraction.decode(home, content_type)
    host = parts.netloc.lower()

    def same_site(link: str) -> bool:
        return urlsplit(link).netloc.lower() in (host, "www." + host, host.removeprefix("www."))

    # Feeds
    candidates = determine_feed(home_html, FeedParameters(base, host, start))
    candidates += [base + g for g in FEED_GUESSES]
    links: list[str] = []
    for candidate in dict.fromkeys(candidates):
        if not same_site(candidate) or not fetch.allowed(candidate):
            continue
        status, body, _ = fetch.get(candidate)
        root = _xml(body) if status == 200 else None
        if root is None or _local(root.tag) not in ("rss", "feed", "rdf"):
            continue
        found = [urljoin(candidate, link) for link in feed_links(root)]
        say(f"feed {candidate}: {len(found)} items")
        report.feeds.append(urlsplit(candidate).path or "/")
        links += found
        if len(report.feeds) >= 2:
            break
    # Sitemaps
    from_robots = extract_robots_sitemaps(fetch.robots_text, base)[:MAX_CHILD_SITEMAPS]
    for sitemap in from_robots or [base + g for g in SITEMAP_GUESSES]:
        if not same_site(sitemap) or not fetch.allowed(sitemap):
            continue
        status, body, _ = fetch.get(sitemap)
        root = _xml(body) if status == 200 else None
        if root is None or _local(root.tag) not in ("sitemapindex", "urlset"):
            continue
        report.sitemaps.append(urlsplit(sitemap).path)
        kind, entries = sitemap_entries(root)
        if kind == "urlset":
            say(f"sitemap {sitemap}: {len(entries)} URLs")
            links += [loc for loc, _ in entries]
        else:
            children = sorted(entries, key=lambda e: e[1], reverse=True)[:MAX_CHILD_SITEMAPS]
            say(f"sitemap index {sitemap}: {len(entries)} children, reading {len(children)}")
            for child, _ in children:
                if same_site(child) and fetch.allowed(child):
                    status, body, _ = fetch.get(child)
                    child_root = _xml(body) if status == 200 else None
                    if child_root is not None:
                        links += [loc for loc, _ in sitemap_entries(child_root)[1]]
        if not from_robots:
            break  # the first usual address that answers is enough
    report.article_urls = [u for u in dict.fromkeys(links) if same_site(u)][:MAX_URLS]
    if not report.feeds:
        report.notes.append("no RSS/Atom feed found: add one by hand if the site has it")
    if not report.sitemaps:
        report.notes.append("no sitemap found in robots.txt or at the usual addresses")
    report.article_pattern, report.coverage = induce_pattern(
        urlsplit(u).path for u in report.article_urls
    )
    if report.article_pattern is None:
        report.notes.append("no article URLs found: write article_pattern by hand")
        return report
    pattern = re.compile(report.article_pattern)
    hrefs = [urljoin(start, h) for h in lxml.html.fromstring(home).xpath("//a/@href")]
    on_start = {urlsplit(h).path for h in hrefs if same_site(h)}
    if sum(bool(pattern.match(p.lower())) for p in on_start) >= 5:
        report.listings.append(urlsplit(start).path or "/")  # it links to articles: a listing
    # Samples: the newest the feeds list first, then the sitemaps'
    chosen = [u for u in report.article_urls if pattern.match(urlsplit(u).path.lower())]
    langs = Counter()
    for article_url in chosen[:samples]:
        if not fetch.allowed(article_url):
            report.samples.append({"url": article_url, "error": "forbidden by robots.txt"})
            continue
        status, body, content_type = fetch.get(article_url)
        if status != 200:
            report.samples.append({"url": article_url, "error": f"HTTP {status or 'error'}"})
            continue
        try:
            fields = extraction.extract(body, article_url, content_type)
        except extraction.ExtractionError as exc:
            report.samples.append({"url": article_url, "error": str(exc)})
            continue
        say(f"extracted {article_url}")
        langs[fields["lang"]] += 1
        report.samples.append({"url": article_url, **fields})
    report.lang = langs.most_common(1)[0][0] if langs else None
    return report


def registry_entry(report: Report, slug: str, name: str) -> str:
    """The report as an entry for seeds/outlets.yml."""

    def paths(values: list[str]) -> str:
        return "[" + ", ".join(values) + "]"

    lines = [
        f"  - slug: {slug}",
        f"    name: {name}",
        f"    base_url: {report.base_url}",
        f"    lang: {report.lang or 'ru'}",
    ]
    if report.feeds:
        lines.append(f"    feeds: {paths(report.feeds)}")
    if report.sitemaps:
        lines.append(f"    sitemaps: {paths(report.sitemaps)}")
    if report.listings:
        lines.append(f"    listings: {paths(report.listings)}")
    if report.article_pattern:
        lines.append(f"    article_pattern: '{report.article_pattern}'")
    lines.append("    every: 30")
    return "\n".join(lines) + "\n"
