"""A generic loopback HTTP server that serves a replica site to the crawler under test.

A `Site` turns a request into a `Reply`; `ReplicaServer` binds a free port on 127.0.0.1, answers
GET and HEAD with HTTP/1.1 keep-alive, adds strong ETags and answers conditional requests with
304, records every request, and can play dead (`down()`) to simulate an unreachable server.

    with ReplicaServer(OrdaSite()) as server:
        crawl(server.origin)
        assert server.hits(r"^/feed/$") == 1
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Headers a 304 answer repeats from the 200 it stands for (RFC 9110, 15.4.5).
_NOT_MODIFIED_HEADERS = {"etag", "last-modified", "cache-control", "expires", "vary"}


@dataclass
class Reply:
    """What a site answers to one request."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; status is 0 when it was dropped without an answer."""

    method: str
    path: str
    query: str
    status: int
    user_agent: str
    headers: dict[str, str]
    time: float

    @property
    def target(self) -> str:
        """The path plus "?query" when there is one."""
        return f"{self.path}?{self.query}" if self.query else self.path


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive request headers."""

    def __init__(self, items: list[tuple[str, str]]):
        self._items = {name.lower(): (name, value) for name, value in items}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items


class Site:
    """Base class of a replica site; subclasses implement reply() and keep their ground truth in
    `articles` (objects with a `path` and a `url`)."""

    _origin = ""

    @property
    def origin(self) -> str:
        """Set by ReplicaServer before the first request, e.g. "http://127.0.0.1:5555"."""
        return self._origin

    @origin.setter
    def origin(self, value: str) -> None:
        """The articles' absolute URLs follow the origin."""
        self._origin = value.rstrip("/")
        for article in getattr(self, "articles", ()):
            article.url = self._origin + article.path

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        """Answer one request; path starts with "/", query is the raw query string or ""."""
        raise NotImplementedError


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Look a header up case-insensitively in a plain dict."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of an If-None-Match list against an ETag (RFC 9110, 13.1.2)."""
    tags = [tag.strip() for tag in if_none_match.split(",")]
    bare = etag.removeprefix("W/")
    return "*" in tags or any(tag.removeprefix("W/") == bare for tag in tags)


def _not_modified_since(last_modified: str, if_modified_since: str) -> bool:
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False


def finalize(reply: Reply, request_headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Add ETag and Content-Length, and turn a 200 into a 304 when the request is conditional."""
    status, headers, body = reply.status, dict(reply.headers), reply.body
    if status == 200:
        etag = _header(headers, "ETag")
        if etag is None:
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            headers["ETag"] = etag
        if_none_match = request_headers.get("If-None-Match")
        if_modified_since = request_headers.get("If-Modified-Since")
        last_modified = _header(headers, "Last-Modified")
        if if_none_match is not None:
            not_modified = _etag_matches(if_none_match, etag)
        else:
            not_modified = bool(
                if_modified_since
                and last_modified
                and _not_modified_since(last_modified, if_modified_since)
            )
        if not_modified:
            headers = {k: v for k, v in headers.items() if k.lower() in _NOT_MODIFIED_HEADERS}
            # A 304 may carry Content-Length only as the length of the 200 it replaces.
            headers["Content-Length"] = str(len(body))
            return 304, headers, b""
    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    headers["Content-Length"] = str(len(body))
    return status, headers, body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.20.1"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet

    def _serve(self) -> None:
        replica = self.server.replica
        split = urlsplit(self.path)
        path, query = split.path or "/", split.query
        headers = Headers(list(self.headers.items()))
        if replica.is_down:
            replica.record(self.command, path, query, 0, headers)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            reply = replica.site.reply(self.command, path, query, headers)
        except Exception:
            reply = Reply(
                500,
                traceback.format_exc().encode(),
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        if reply.delay > 0:
            time.sleep(reply.delay)
        status, out_headers, body = finalize(reply, headers)
        replica.record(self.command, path, query, status, headers)
        try:
            self.send_response(status)
            for name, value in out_headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD" and body:
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    replica: ReplicaServer

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, _Handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def finish_request(self, request, client_address) -> None:
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def handle_error(self, request, client_address) -> None:
        pass  # quiet: clients hanging up mid-answer are normal in crawl tests


class ReplicaServer:
    """Serve one Site on a free loopback port and record every request."""

    def __init__(self, site: Site):
        self.site = site
        self._httpd = _HTTPServer(("127.0.0.1", 0))
        self._httpd.replica = self
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        site.origin = self.origin
        self._lock = threading.Lock()
        self._log: list[Request] = []
        self._down = False
        self._thread: threading.Thread | None = None

    def start(self) -> ReplicaServer:
        """Start answering in a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"replica {self.origin}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering, close open connections and free the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        with self._httpd.connections_lock:
            for connection in list(self._httpd.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._httpd.server_close()

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def is_down(self) -> bool:
        return self._down

    def down(self) -> None:
        """Close every connection without an answer until up() is called."""
        self._down = True

    def up(self) -> None:
        """Answer requests again after down()."""
        self._down = False

    def record(self, method: str, path: str, query: str, status: int, headers: Headers) -> None:
        """Append one request to the log (called by the handler threads)."""
        entry = Request(
            method=method,
            path=path,
            query=query,
            status=status,
            user_agent=headers.get("User-Agent", ""),
            headers=dict(headers.items()),
            time=time.time(),
        )
        with self._lock:
            self._log.append(entry)

    @property
    def log(self) -> list[Request]:
        """A snapshot of every request so far, oldest first."""
        with self._lock:
            return list(self._log)

    def hits(self, pattern: str) -> int:
        """How many logged requests have a path (+ "?" + query) matching the regex."""
        regex = re.compile(pattern)
        with self._lock:
            return sum(1 for entry in self._log if regex.search(entry.target))

    def clear_log(self) -> None:
        """Forget every request logged so far."""
        with self._lock:
            self._log.clear()
