"""Scrapy settings for monitor: politeness, pipelines, and the MONITOR_* settings.

This is the only place the MONITOR_* environment variables are read; `-s KEY=VALUE` on the
command line overrides anything set here.
"""

import os
from pathlib import Path

from monitor import __version__

# The repository root: default paths are relative to it, so commands work from any folder.
ROOT = Path(__file__).resolve().parent.parent

BOT_NAME = "monitor"
SPIDER_MODULES = ["monitor.spiders"]
NEWSPIDER_MODULE = "monitor.spiders"
COMMANDS_MODULE = "monitor.commands"

# Where articles, failures and crawl records go.
MONITOR_DB = os.environ.get("MONITOR_DB", str(ROOT / "storage" / "monitor.db"))
# The outlet registry and topic definitions.
MONITOR_OUTLETS = os.environ.get("MONITOR_OUTLETS", str(ROOT / "seeds" / "outlets.yml"))
MONITOR_TOPICS = os.environ.get("MONITOR_TOPICS", str(ROOT / "seeds" / "topics.yml"))
# Extraction runs in this many worker processes (0: in the crawl process itself).
MONITOR_EXTRACT_WORKERS = int(os.environ.get("MONITOR_EXTRACT_WORKERS", "2"))
# Seconds of a worker's time a page's extraction may take; a page over it is a failure and the
# worker is replaced (the limit does not apply with MONITOR_EXTRACT_WORKERS=0).
MONITOR_EXTRACT_TIMEOUT = float(os.environ.get("MONITOR_EXTRACT_TIMEOUT", "60"))
# Stored items are committed at least this often, in seconds.
MONITOR_COMMIT_INTERVAL = 0.5
# Default look-back window of a crawl when no `-a since=` is given, in days.
MONITOR_SINCE_DAYS = 3
# Seconds a write waits for another process's lock on the database before giving up with a
# one-line "database is locked" error (a crawl keeps its items and tries again later).
MONITOR_BUSY_TIMEOUT = float(os.environ.get("MONITOR_BUSY_TIMEOUT", "10"))
# An article page that timed out in this many crawls in a row is not fetched again until its
# sitemap lastmod changes.
MONITOR_TIMEOUTS_BEFORE_DEAD = 3
# The time zone times are shown in: pages, feeds and the command line (stored times keep
# the offset the outlet gave).
MONITOR_TIMEZONE = os.environ.get("MONITOR_TIMEZONE", "Asia/Almaty")

# Politeness toward real sites.
# Say who is crawling; set MONITOR_CONTACT (an e-mail or URL) so site owners can reach you.
_CONTACT = os.environ.get("MONITOR_CONTACT", "")
_ABOUT = "news-monitoring crawler for Kazakhstan media" + (f"; {_CONTACT}" if _CONTACT else "")
USER_AGENT = f"monitor/{__version__} ({_ABOUT})"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
REDIRECT_MAX_TIMES = 10
CLOSESPIDER_TIMEOUT = 3600
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote-control endpoint (an aiohttp server on loopback that runs code sent to it) is
# not needed by a crawl that runs unattended, like the telnet console.
REMOTE_CONTROL_ENABLED = False

# Every status reaches the spider's errback or callback so each failure is recorded.
HTTPERROR_ALLOW_ALL = False
# Items of one response processed at a time. Scrapy's default (100) starts 100 asyncio tasks for
# every response, and an article page yields one item: with 2,000 pages that cost the crawl
# process more CPU time than downloading them.
CONCURRENT_ITEMS = 8

ITEM_PIPELINES = {
    "monitor.pipelines.ExtractPipeline": 100,
    "monitor.pipelines.StorePipeline": 200,
}
# The web archive (monitor/archive.py): every article fetch as served, in WARC files in warc/
# beside the database; each file is closed for a new one past MONITOR_WARC_MAX_BYTES (its
# downloader middleware is in DOWNLOADER_MIDDLEWARES below).
MONITOR_WARC = os.environ.get("MONITOR_WARC", "1") not in ("0", "false", "no")
MONITOR_WARC_MAX_BYTES = int(os.environ.get("MONITOR_WARC_MAX_BYTES", str(256 * 1024 * 1024)))
# Rechecks (monitor/recheck.py): which articles are watched ("matched": those matching a topic;
# "all": every crawled article), and at most how many requests per outlet and run.
MONITOR_RECHECK_SCOPE = os.environ.get("MONITOR_RECHECK_SCOPE", "matched")
MONITOR_RECHECK_BUDGET = int(os.environ.get("MONITOR_RECHECK_BUDGET", "200"))
# `monitor schedule` runs the due rechecks this often, in seconds (0: never).
MONITOR_RECHECK_EVERY = int(os.environ.get("MONITOR_RECHECK_EVERY", "1800"))

LOG_LEVEL = os.environ.get("MONITOR_LOG_LEVEL", "INFO")
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# Scrapy's built-in components stay as Scrapy lists them (EXTENSIONS_BASE,
# DOWNLOADER_MIDDLEWARES_BASE), so one a future Scrapy adds is on; the ones a crawl never uses
# are switched off by name with None. Scrapy 2.19 imports every key of these settings, None
# ones included, which would cost each crawl about 0.15 s of CPU time (RemoteControl imports
# aiohttp, TelnetConsole twisted.conch, CookiesMiddleware tldextract and requests): the crawl
# command drops the None entries from both settings before Scrapy reads them
# (monitor/commands/crawl.py, without_disabled()), to the same effect.
EXTENSIONS = {
    "monitor.recorder.CrawlRecorder": 100,
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.memdebug.MemoryDebugger": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}
DOWNLOADER_MIDDLEWARES = {
    # Before everything else: a request outside the outlet's hosts is refused, robots.txt
    # of such a host included (monitor/hosts.py).
    "monitor.middlewares.HostGuardMiddleware": 40,
    # Scrapy's, with the gate holding for every request that waits for robots.txt.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "monitor.middlewares.RobotsTxtGate": 100,
    # Scrapy's, made cheaper for big pages.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "monitor.middlewares.CheapMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    # Nearest the network: every article fetch goes to the web archive as served
    # (monitor/archive.py).
    "monitor.archive.ArchiveMiddleware": 950,
}
