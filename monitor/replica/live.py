"""A replica site that lives: it publishes held-back articles, edits some and removes one.

`monitor demo` wraps each replica in a LiveSite and lets a Newsroom act on one of them every
interval, so someone watching sees what a real outlet does to the monitor: new articles arrive
and match, an edited article gets a version with its changes, a removed one answers 404.

A held-back or removed article answers the site's own 404 page, and every feed item, sitemap
entry and listing link pointing to it is taken out of the site's pages, whatever their layout.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from monitor.dates import ALMATY
from monitor.replica.server import Reply, Site

logger = logging.getLogger("monitor.demo")

EDIT_NOTE = "Материал дополнен: редакция уточнила подробности после публикации."
_MISSING = "/this-page-does-not-exist-404/"


class LiveSite(Site):
    """`inner` with its `hold_back` newest stored articles unpublished until `publish()`."""

    def __init__(self, inner: Site, hold_back: int = 4):
        self.inner = inner
        self._lock = threading.Lock()
        stored = [a for a in inner.articles if getattr(a, "expect", "stored") == "stored"]
        stored.sort(key=lambda a: a.published or "", reverse=True)
        self.held = list(reversed(stored[:hold_back]))  # the oldest of them is published first
        self.released: list[Any] = []  # published by publish(): maybe not crawled yet
        self.removed: list[Any] = []
        self.edited: list[Any] = []

    @property
    def articles(self) -> list[Any]:
        return self.inner.articles

    @property
    def origin(self) -> str:
        return self.inner.origin

    @origin.setter
    def origin(self, value: str) -> None:
        self.inner.origin = value

    def hidden(self) -> set[str]:
        with self._lock:
            return {a.path for a in (*self.held, *self.removed)}

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        gone = self.hidden()
        if path in gone:
            missing = self.inner.reply(method, _MISSING, "", headers)
            return Reply(404, missing.body, dict(missing.headers))
        reply = self.inner.reply(method, path, query, headers)
        kind = next((v for k, v in reply.headers.items() if k.lower() == "content-type"), "")
        if reply.status != 200 or not gone or not re.search(r"xml|rss|atom|html", kind):
            return reply
        body = reply.body.decode("utf-8", "replace")
        for hidden in gone:
            body = _without(body, hidden)
        return Reply(reply.status, body.encode("utf-8"), dict(reply.headers), reply.delay)

    def publish(self) -> Any | None:
        """Publish the next held-back article; None when there is none left."""
        with self._lock:
            if not self.held:
                return None
            self.released.append(self.held.pop(0))
            return self.released[-1]

    def edit(self, now: datetime) -> Any | None:
        """Edit the newest article online from the start and not edited yet (a crawl has seen
        it, so the edit makes a version): a new title and a paragraph."""
        gone = self.hidden()
        candidates = sorted(
            (
                a
                for a in self.inner.articles
                if getattr(a, "expect", "stored") == "stored"
                and a.path not in gone
                and a not in self.edited
                and a not in self.released
            ),
            key=lambda a: a.published or "",
            reverse=True,
        )
        for article in candidates:
            try:
                edited = self.inner.edit_article(
                    article.id,
                    title=f"{article.title} (обновлено)",
                    add_paragraph=EDIT_NOTE,
                    modified=now.replace(microsecond=0).isoformat(),
                )
            except (ValueError, KeyError, StopIteration):
                continue  # a kind of page the replica cannot edit
            self.edited.append(article)
            return edited
        return None

    def remove(self) -> Any | None:
        """Take down the oldest published article that was not edited."""
        gone = self.hidden()
        for article in sorted(self.inner.articles, key=lambda a: a.published or ""):
            if (
                getattr(article, "expect", "stored") == "stored"
                and article.path not in gone
                and article not in self.edited
            ):
                with self._lock:
                    self.removed.append(article)
                return article
        return None


def _without(body: str, path: str) -> str:
    """`body` without the feed items, sitemap entries and links that lead to `path`."""
    # the path itself, or the path after a scheme and host, as a whole attribute or element value
    url = rf"(?:(?<=[\"'>])|https?://[^/\"'<\s]+){re.escape(path)}(?=[\"'<\s?#])"
    for tag in ("item", "entry", "url"):
        block = rf"<{tag}\b(?:(?!</{tag}>).)*?{url}(?:(?!</{tag}>).)*?</{tag}>\s*"
        body = re.sub(block, "", body, flags=re.S)
    return re.sub(rf"<a\b[^>]*href=[\"']{url}[\"'][^>]*>.*?</a>", "", body, flags=re.S)


class Newsroom:
    """Every `every` seconds, one site publishes, edits or removes an article (in turn)."""

    ACTIONS = ("publish", "publish", "edit", "publish", "remove")

    def __init__(
        self,
        sites: Mapping[str, LiveSite],
        every: float,
        report: Callable[[str], None] | None = None,
    ):
        self.sites = dict(sites)
        self.every = every
        self.report = report or logger.info
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._turns = itertools.cycle(
            [(action, slug) for action in self.ACTIONS for slug in self.sites]
        )

    def act(self) -> str | None:
        """Take the next turn that can be taken; return what happened."""
        for _ in range(len(self.ACTIONS) * len(self.sites)):
            action, slug = next(self._turns)
            site = self.sites[slug]
            if action == "publish":
                article = site.publish()
                verb = "published"
            elif action == "edit":
                article = site.edit(datetime.now(ALMATY))
                verb = "edited"
            else:
                article = site.remove()
                verb = "removed"
            if article is not None:
                message = f"newsroom: {slug} {verb} {article.url} ({article.title[:60]})"
                self.report(message)
                return message
        return None

    def start(self) -> Newsroom:
        def run() -> None:
            while not self._stop.wait(self.every):
                self.act()

        self._thread = threading.Thread(target=run, name="newsroom", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
