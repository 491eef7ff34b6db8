"""`scrapy crawl`, checking the spider's arguments first and exiting non-zero on a failed crawl.

A bad argument (`since=yesterday`, a base_url without scheme, an unusable database) stops
with a one-line error before any request is made, instead of a traceback.
"""

from __future__ import annotations

import sys

from scrapy.commands.crawl import Command as ScrapyCrawl

from monitor.errors import MonitorError


class Command(ScrapyCrawl):
    def run(self, args, opts) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                known = ", ".join(sorted(self.crawler_process.spider_loader.list()))
                print(f"Error: no spider named {args[0]!r} (spiders: {known})", file=sys.stderr)
                self.exitcode = 2
                return
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                try:
                    check(self.settings, **opts.spargs)
                except MonitorError as exc:
                    print(f"Error: {exc}", file=sys.stderr)
                    self.exitcode = 2
                    return
        super().run(args, opts)
        spider = getattr(getattr(self, "_crawler", None), "spider", None)
        if self.exitcode == 0 and getattr(spider, "crawl_status", "ok") != "ok":
            self.exitcode = 1

    def _create_crawler(self, spidercls):
        self._crawler = super()._create_crawler(spidercls)
        return self._crawler
