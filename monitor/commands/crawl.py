"""`scrapy crawl`: one or more outlets at once in one process, arguments checked first.

`scrapy crawl orda sputnik_ru tengrinews` crawls the three outlets side by side (a name is a
spider, or an outlet of the registry crawled by its spider). Running them in one process pays
Python's and Scrapy's start-up once, and the outlets share one pool of extraction workers.

A bad argument (`since=yesterday`, a base_url without scheme, an unknown outlet, an unusable
database) stops with a one-line error before any request is made, instead of a traceback. The
exit code is 1 when any of the crawls failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

# Imported here, early, for start-up time: this module builds deprecated aliases with
# inspect.stack(), whose cost grows with the depth of the stack; first imported deep inside the
# reactor (where Scrapy would import it), it takes about 0.07 s longer than here.
import scrapy.core.downloader.contextfactory  # noqa: F401
from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from scrapy.settings import BaseSettings

from monitor import locks, outlets
from monitor.errors import MonitorError
from monitor.logs import quiet_crawl_logs

# Before Scrapy logs its versions: `scrapy crawl` imports this module before it starts.
quiet_crawl_logs()


class Command(ScrapyCrawl):
    def syntax(self) -> str:
        return "[options] <spider or outlet> [<spider or outlet> ...]"

    def short_desc(self) -> str:
        return "Crawl outlets (or spiders) by name, several at once in one process"

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        without_disabled(self.settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError
        assert self.crawler_process is not None
        try:
            targets = self.targets(args, opts.spargs)
            # One crawl per outlet at a time across processes; held until this process ends.
            self.held = locks.hold(self.settings.get("MONITOR_DB"), _slugs(targets))
        except MonitorError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            self.exitcode = locks.BUSY_EXIT if isinstance(exc, locks.OutletBusy) else 2
            return
        crawlers: list[Crawler] = []
        for spidercls, kwargs in targets:
            crawler = self._create_crawler(spidercls)
            crawlers.append(crawler)
            self.crawler_process.crawl(crawler, **kwargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed or any(
            getattr(c.spider, "crawl_status", "ok") != "ok" for c in crawlers
        ):
            self.exitcode = 1
        # Everything is stored and closed: skip the interpreter's teardown of a thousand modules
        # (about 0.085 s, a seventh of a crawl that finds nothing new). So this method does not
        # return: it ends the process, as `scrapy crawl` and `python -m monitor.commands` would.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(self.exitcode)

    def targets(self, names: list[str], spargs: dict[str, str]) -> list[tuple[type, dict]]:
        """The spider class and arguments of each name, all checked before any crawl starts."""
        assert self.crawler_process is not None and self.settings is not None
        loader = self.crawler_process.spider_loader
        spiders = set(loader.list())
        if len(set(names)) != len(names):
            raise MonitorError(f"an outlet is named twice: {' '.join(names)}")
        if len(names) > 1 and ("base_url" in spargs or "outlet" in spargs):
            raise MonitorError("-a base_url and -a outlet need exactly one spider or outlet")
        registry = outlets.load(self.settings.get("MONITOR_OUTLETS"))
        found = []
        for name in names:
            kwargs: dict[str, Any] = dict(spargs)
            if name in registry:
                if registry[name].spider == "news":
                    kwargs["outlet"] = name
                name = registry[name].spider
            elif name not in spiders:
                known = ", ".join([*registry, *(s for s in sorted(spiders) if s not in registry)])
                raise MonitorError(f"no outlet or spider named {name!r} (known: {known})")
            spidercls = loader.load(name)
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                check(self.settings, **kwargs)
            found.append((spidercls, kwargs))
        _check_topics(self.settings.get("MONITOR_TOPICS"))
        return found


def without_disabled(settings: BaseSettings) -> None:
    """Take the components set to None out of EXTENSIONS and DOWNLOADER_MIDDLEWARES, and out of
    their _BASE lists, before Scrapy reads them.

    The effect is Scrapy's own (a component set to None is off), minus the import: Scrapy 2.19
    imports every key of these settings to resolve aliases, None ones included, and the ones
    monitor switches off are the expensive ones to import (monitor/settings.py).
    """
    for name in ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES"):
        chosen = settings.getdict(name)
        off = {key for key, value in chosen.items() if value is None and isinstance(key, str)}
        if not off:
            continue
        base = settings.getdict(f"{name}_BASE")
        settings.set(
            f"{name}_BASE",
            {key: value for key, value in base.items() if key not in off},
            priority=settings.getpriority(f"{name}_BASE") or "default",
        )
        settings.set(
            name,
            {key: value for key, value in chosen.items() if key not in off},
            priority=settings.getpriority(name) or "project",
        )


def _slugs(targets: list[tuple[type, dict]]) -> list[str]:
    """The outlet each (spider class, arguments) crawls."""
    return [
        kwargs.get("outlet") or getattr(spidercls, "outlet_slug", None) or spidercls.name
        for spidercls, kwargs in targets
    ]


def _check_topics(path: str | None) -> None:
    """A broken topic file stops the crawl before it starts (the workers match with it)."""
    from monitor.topics import load_topics

    if path:
        load_topics(path)  # a TopicError is a MonitorError


def main(argv: list[str] | None = None) -> None:
    """`python -m monitor.commands NAME... [-a K=V] [-s K=V]`: `scrapy crawl` without loading
    Scrapy's other commands, for the crawls monitor starts itself (`monitor crawl`, the
    scheduler). A crawl that finds nothing new is mostly Python and Scrapy starting up."""
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    command = Command()
    parser = argparse.ArgumentParser(
        prog="python -m monitor.commands",
        usage=f"%(prog)s {command.syntax()}",
        description=command.short_desc(),
    )
    settings.setdict(command.default_settings, priority="command")
    command.settings = settings
    command.add_options(parser)
    opts, args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if not args:
        parser.error("name at least one outlet or spider")
    try:
        command.process_options(args, opts)
        command.crawler_process = AsyncCrawlerProcess(settings)
        command.run(args, opts)
    except UsageError as exc:
        parser.error(str(exc) or "bad arguments")
    sys.exit(command.exitcode)
