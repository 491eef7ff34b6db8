"""What the served site keeps to itself: server paths, error details, write methods.

- `/-/databases` (and `.json`) answer 404: Datasette lists each database's absolute path
  there, which tells a visitor where the server keeps its files.
- An unexpected error (HTTP 500) shows a short page without the exception's text, which can
  name files and folders; the traceback goes to the server's log.
- POST (or any method but GET, HEAD and OPTIONS) to a canned query answers 405 Method Not
  Allowed: no query of this site writes, and Datasette 0.65 answers such a request with a 500.
"""

from __future__ import annotations

import json
import logging
import traceback

from datasette import Response, hookimpl
from datasette.utils.asgi import Base400
from datasette.views.base import DatasetteError

logger = logging.getLogger("monitor.datasette")

HIDDEN = ("/-/databases", "/-/databases.json")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def _canned_query(datasette, path: str) -> bool:
    """Whether `path` is /DATABASE/QUERY (or QUERY.ext) of a canned query that does not write."""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or parts[0] not in datasette.databases:
        return False
    queries = datasette.metadata("queries", database=parts[0]) or {}
    name = parts[1].rsplit(".", 1)[0] if parts[1] not in queries else parts[1]
    query = queries.get(name)
    return query is not None and not (isinstance(query, dict) and query.get("write"))


async def _answer(send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json; charset=utf-8")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def guarded(scope, receive, send):
            if scope["type"] == "http":
                path = scope.get("path", "")
                if path in HIDDEN:
                    await _answer(send, 404, {"ok": False, "error": "Not found", "status": 404})
                    return
                if scope.get("method", "GET") not in READ_METHODS and _canned_query(
                    datasette, path
                ):
                    await _answer(
                        send,
                        405,
                        {"ok": False, "error": "Method not allowed", "status": 405},
                        {"Allow": "GET, HEAD, OPTIONS"},
                    )
                    return
            await app(scope, receive, send)

        return guarded

    return wrap


@hookimpl
def handle_exception(datasette, request, exception):
    if isinstance(exception, Base400 | DatasetteError):
        return None  # Datasette's own page: a bad request, not found, forbidden, too slow

    async def inner():
        logger.error(
            "%s %s: %s",
            request.method,
            request.path,
            "".join(traceback.format_exception(exception)).rstrip(),
        )
        message = "Internal error: the details are in the server log."
        info = {"ok": False, "error": message, "status": 500, "title": None}
        if request.path.endswith(".json"):
            return Response.json(info, status=500)
        html = await datasette.render_template(
            ["500.html", "error.html"], dict(info, menu_links=lambda: []), request=request
        )
        return Response.html(html, status=500)

    return inner
