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
# Stored items are committed at least this often, in seconds.
MONITOR_COMMIT_INTERVAL = 0.5
# Default look-back window of a crawl when no `-a since=` is given, in days.
MONITOR_SINCE_DAYS = 3
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
EXTENSIONS = {
    "monitor.recorder.CrawlRecorder": 100,
}

LOG_LEVEL = os.environ.get("MONITOR_LOG_LEVEL", "INFO")
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# Scrapy's built-in components, minus the ones a crawl never uses (RemoteControl, TelnetConsole,
# MemoryDebugger, HttpAuthMiddleware, CookiesMiddleware): Scrapy imports every listed component
# when it starts, even one switched off, and these cost start-up time in every crawl
# (RemoteControl imports aiohttp, TelnetConsole twisted.conch, CookiesMiddleware tldextract).
# Meta refresh is handled by a cheaper subclass of Scrapy's middleware (monitor/middlewares.py).
# Check these lists against Scrapy's defaults when upgrading Scrapy.
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.memusage.MemoryUsage": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.feedexport.FeedExporter": 0,
    "scrapy.extensions.logstats.LogStats": 0,
    "scrapy.extensions.spiderstate.SpiderState": 0,
    "scrapy.extensions.throttle.AutoThrottle": 0,
}
DOWNLOADER_MIDDLEWARES_BASE = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": 350,
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": 400,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": 500,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": 550,
    "monitor.middlewares.CheapMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": 750,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": 850,
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": 900,
}
