"""How a crawl's log reads: what a person needs at INFO, the rest at DEBUG.

Scrapy logs its versions, settings and components at INFO when a crawl starts, its stats when it
ends, and a network error (a DNS failure, a refused connection, a timeout) as an ERROR with a full
traceback, often twice. A crawl of an unreachable outlet then printed about 180 lines. At INFO
(the default) this filter keeps one WARNING line per failed request, without traceback, and moves
the start-up and stats dumps to DEBUG; with LOG_LEVEL=DEBUG everything is shown as Scrapy logs it.
"""

from __future__ import annotations

import logging

from scrapy.utils.log import get_scrapy_root_handler

# Loggers whose INFO records are dumps of configuration or statistics.
DUMPS = frozenset(
    {
        "scrapy.addons",
        "scrapy.crawler",
        "scrapy.middleware",
        "scrapy.statscollectors",
        "scrapy.utils.log",
    }
)

# Exception class names that mean the network, not our code, failed.
NETWORK_ERRORS = frozenset(
    {
        "CannotResolveHostError",
        "ConnectError",
        "ConnectionDone",
        "ConnectionLost",
        "ConnectionRefusedError",
        "DNSLookupError",
        "DownloadConnectionRefusedError",
        "DownloadFailedError",
        "DownloadTimeoutError",
        "NoRouteError",
        "ResponseFailed",
        "ResponseNeverReceived",
        "TCPTimedOutError",
        "TimeoutError",
        "TunnelError",
        "SSLError",
    }
)


def _is_network_error(exc: BaseException | None) -> bool:
    while exc is not None:
        if type(exc).__name__ in NETWORK_ERRORS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


# Loggers that log network failures with tracebacks.
NETWORK_LOGGERS = (
    "scrapy.core.downloader",
    "scrapy.core.engine",
    "scrapy.core.scraper",
    "scrapy.downloadermiddlewares.retry",
    "scrapy.downloadermiddlewares.robotstxt",
)
RETRY = "scrapy.downloadermiddlewares.retry"
ROBOTS = "scrapy.downloadermiddlewares.robotstxt"


class CrawlLogFilter(logging.Filter):
    """Rewrites or drops the records of one Scrapy logger (filters on a logger see the records
    logged through it; Scrapy replaces its root handler per crawler, the loggers stay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        handler = get_scrapy_root_handler()
        if handler is not None and handler.level <= logging.DEBUG:
            return True  # LOG_LEVEL=DEBUG: everything as Scrapy logs it
        if record.name in DUMPS:
            return record.levelno > logging.INFO
        if record.name == RETRY and record.levelno > logging.WARNING:
            _demote(record)  # "Gave up retrying <GET ...> (failed 3 times): reason": one line
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _is_network_error(exc):
            if record.name == ROBOTS:
                return False  # the retry middleware already said robots.txt failed, and why
            record.exc_info = None
            record.exc_text = None
            _demote(record)
        return True


def _demote(record: logging.LogRecord) -> None:
    record.levelno = logging.WARNING
    record.levelname = "WARNING"


def quiet_crawl_logs() -> None:
    """Filter the loggers that dump settings and stats or log network tracebacks (idempotent;
    the filters let everything through when Scrapy's LOG_LEVEL is DEBUG)."""
    for name in (*DUMPS, *NETWORK_LOGGERS):
        logger = logging.getLogger(name)
        if not any(isinstance(f, CrawlLogFilter) for f in logger.filters):
            logger.addFilter(CrawlLogFilter())
