"""The web archive: every article fetch kept as it was served, in WARC files (ISO 28500).

Each fetch of an article page (its redirects, errors and retries included) is a `response`
record (the status line, headers and body as received, with WARC-Payload-Digest) and a
`request` record (what the crawler sent), written with warcio into gzip WARC files, one gzip
member per record, under `warc/` beside the database (`storage/warc/` for the default one):

    warc/<outlet>/<outlet>-<YYYYMMDD>-<HHMMSS>-<pid>-<n>.warc.gz

A file holds one outlet's fetches of one day (UTC) by one process, and is closed for a new one
past MONITOR_WARC_MAX_BYTES. Files are created exclusively and never reopened, so a run never
appends to a file that a killed process may have left behind. Each record pair is compressed in
memory and written with a single write() to the file, so a crash (a SIGKILL included) leaves
every completed record readable and nothing half-written. The `captures` table links each fetch
to its file, offset, length, status, time and digest; read_capture() reads one record back with
one seek, whatever the file's size.

The crawl writes the records in its downloader middleware (ArchiveMiddleware, which sees the
response before Scrapy decompresses or redirects it) and inserts the `captures` rows in the
transactions of StorePipeline (store_captures), so a capture row never points at a record that
is not on disk.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from monitor import __version__

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
# zlib level of each record's gzip member: 6 costs about three times level 1's CPU time for a
# few percent less disk (measured on the benchmark's pages); the crawl process writes the archive.
GZIP_LEVEL = 1


def archive_dir(db_path: str | os.PathLike[str]) -> Path:
    """The archive folder of a database: `warc/` beside it."""
    return Path(db_path).resolve().parent / "warc"


@dataclass
class Capture:
    """One archived fetch: where its response record is and what it was."""

    url: str
    outlet: str
    file: str  # relative to the archive folder
    offset: int
    length: int
    status: int
    fetched: str
    digest: str
    content_type: str | None = None
    kind: str = "crawl"
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "outlet": self.outlet,
            "file": self.file,
            "offset": self.offset,
            "length": self.length,
            "status": self.status,
            "fetched": self.fetched,
            "digest": self.digest,
            "content_type": self.content_type,
            "kind": self.kind,
        }


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest of a body: "sha1:" and the base32 SHA-1, as warcio writes it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


class _WarcFile:
    """One open WARC file; records are appended with one write() each."""

    def __init__(self, root: Path, outlet: str, day: str, serial: int):
        stamp = datetime.now(UTC).strftime("%H%M%S")
        self.relative = f"{outlet}/{outlet}-{day}-{stamp}-{os.getpid()}-{serial:04d}.warc.gz"
        self.path = root / self.relative
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: a new file, never one that another (perhaps killed) process wrote.
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self.size = 0
        self.day = day
        self._write(_warcinfo(self.path.name))

    def _write(self, data: bytes) -> int:
        offset = self.size
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)
        return offset

    def append(self, records: list[bytes]) -> tuple[int, int]:
        """Write records (already gzip members) at once; return the first's offset and length."""
        offset = self._write(b"".join(records))
        return offset, len(records[0])

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.fsync(self.fd)
            finally:
                os.close(self.fd)
                self.fd = -1


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return compressor.compress(data) + compressor.flush()


def _record_bytes(writer: WARCWriter, record: ArcWarcRecord) -> bytes:
    out = io.BytesIO()
    writer.out = out
    writer.write_record(record)
    return _gzip(out.getvalue())


def _warcinfo(filename: str) -> bytes:
    writer = WARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")
    info = {
        "software": f"monitor/{__version__} (warcio)",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/",
        "description": "news-monitoring crawler for Kazakhstan media: article fetches",
    }
    return _record_bytes(writer, writer.create_warcinfo_record(filename, info))


class Archive:
    """The WARC files one process writes: one open file per outlet, rotated by day and size."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.files: dict[str, _WarcFile] = {}
        self.serial = 0
        self.lock = threading.Lock()  # records are built in any thread, appended one at a time

    def _file(self, outlet: str) -> _WarcFile:
        day = datetime.now(UTC).strftime("%Y%m%d")
        current = self.files.get(outlet)
        if current is not None and (current.day != day or current.size >= self.max_bytes):
            current.close()
            current = None
        while current is None:
            self.serial += 1
            try:
                current = _WarcFile(self.root, outlet, day, self.serial)
            except FileExistsError:  # never reuse a file: take the next name
                continue
            self.files[outlet] = current
        return current

    def write(
        self,
        *,
        outlet: str,
        url: str,
        method: str,
        request_headers: Iterable[tuple[str, str]],
        status: int,
        response_headers: Iterable[tuple[str, str]],
        body: bytes,
        protocol: str = "HTTP/1.1",
        kind: str = "crawl",
    ) -> Capture:
        """Archive one fetch (request and response records); return where it went.

        Thread-safe: the records are built and compressed in the calling thread, and appended
        to the outlet's file under a lock."""
        writer = WARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")
        split = urlsplit(url)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        req_headers = [("Host", split.netloc), *request_headers]
        request = writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(
                f"{method} {target} {protocol}", req_headers, is_http_request=True
            ),
        )
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        # The body is kept as Scrapy received it: de-chunked, still content-encoded. A
        # Transfer-Encoding header would make readers de-chunk it again: kept under another name.
        resp_headers = [
            ("X-Archive-Orig-Transfer-Encoding", v) if k.lower() == "transfer-encoding" else (k, v)
            for k, v in response_headers
        ]
        response = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders(f"{status} {phrase}", resp_headers, protocol=protocol),
        )
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        request.rec_headers.replace_header("WARC-Date", response.rec_headers["WARC-Date"])
        request.rec_headers.add_header("WARC-Concurrent-To", response_id)
        records = [_record_bytes(writer, response), _record_bytes(writer, request)]
        with self.lock:
            target_file = self._file(outlet)
            try:
                offset, length = target_file.append(records)
            except OSError:
                # A full disk may have left part of a record at the end of this file: never
                # write after it. The records before stay readable; the next goes to a new file.
                self.files.pop(outlet, None)
                with contextlib.suppress(OSError):
                    target_file.close()
                raise
        content_type = next((v for k, v in resp_headers if k.lower() == "content-type"), None)
        return Capture(
            url=url,
            outlet=outlet,
            file=target_file.relative,
            offset=offset,
            length=length,
            status=status,
            fetched=datetime.now(UTC).replace(microsecond=0).isoformat(),
            digest=response.rec_headers.get_header("WARC-Payload-Digest"),
            content_type=content_type,
            kind=kind,
        )

    def close(self) -> None:
        with self.lock:
            for warc in self.files.values():
                warc.close()
            self.files.clear()


# -- reading back -----------------------------------------------------------------------------


@dataclass
class Record:
    """A response record read back from the archive."""

    url: str
    date: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # the payload as served (still content-encoded if the server compressed it)
    digest: str | None

    def decoded_body(self) -> bytes:
        """The payload with its Content-Encoding (gzip, deflate) undone."""
        encoding = next(
            (v.strip().lower() for k, v in self.headers if k.lower() == "content-encoding"), ""
        )
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(self.body, zlib.MAX_WBITS | 32)
        if encoding == "deflate":
            try:
                return zlib.decompress(self.body)
            except zlib.error:
                return zlib.decompress(self.body, -zlib.MAX_WBITS)
        return self.body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def read_raw(root: str | os.PathLike[str], file: str, offset: int, length: int) -> bytes:
    """The bytes of one record (a gzip member) as stored: one seek, one read."""
    path = _safe_path(Path(root), file)
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(length)
    if len(data) != length:
        raise ValueError(f"{file}: record at {offset} is cut short")
    return data


def read_capture(root: str | os.PathLike[str], file: str, offset: int, length: int) -> Record:
    """Read the response record at `offset` of `file` (relative to the archive `root`)."""
    data = read_raw(root, file, offset, length)
    for record in ArchiveIterator(io.BytesIO(data), no_record_parse=False):
        return _record(record)
    raise ValueError(f"{file}: no record at {offset}")


def _record(record: ArcWarcRecord) -> Record:
    http = record.http_headers
    return Record(
        url=record.rec_headers.get_header("WARC-Target-URI"),
        date=record.rec_headers.get_header("WARC-Date"),
        status=int(http.get_statuscode()) if http else 0,
        headers=list(http.headers) if http else [],
        body=record.raw_stream.read(),
        digest=record.rec_headers.get_header("WARC-Payload-Digest"),
    )


def iter_responses(path: str | os.PathLike[str]) -> Iterator[tuple[int, int, Record]]:
    """Every response record of a WARC file, with its offset and length."""
    with open(path, "rb") as handle:
        iterator = ArchiveIterator(handle)
        for record in iterator:
            if record.rec_type != "response":
                continue
            parsed = _record(record)
            iterator.read_to_end()
            yield iterator.get_record_offset(), iterator.get_record_length(), parsed


def reindex(db: Any, root: str | os.PathLike[str]) -> int:
    """Add the `captures` rows missing for response records on disk; return how many.

    A crawl killed between writing a record and committing its row (at most half a second of
    fetches) leaves such records; they are linked to their articles like any capture."""
    from monitor import db as monitor_db

    root = Path(root)
    known = {(f, o) for f, o in db.execute("select file, offset from captures")}
    missing = []
    for path in sorted(root.rglob("*.warc.gz")):
        relative = path.relative_to(root).as_posix()
        for offset, length, record in iter_responses(path):
            if (relative, offset) in known:
                continue
            moment = datetime.fromisoformat(record.date.replace("Z", "+00:00"))
            missing.append(
                Capture(
                    url=record.url,
                    outlet=path.relative_to(root).parts[0],
                    file=relative,
                    offset=offset,
                    length=length,
                    status=record.status,
                    fetched=moment.astimezone(UTC).replace(microsecond=0).isoformat(),
                    digest=record.digest or "",
                    content_type=record.header("Content-Type"),
                )
            )
    with monitor_db.writing(db):
        save_captures(db, missing)
    return len(missing)


def _safe_path(root: Path, file: str) -> Path:
    """`root / file`, refused if it leads outside the archive (a doctored captures row)."""
    path = (root / file).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{file} is outside the archive")
    return path


# -- disk use ---------------------------------------------------------------------------------


def usage(db: Any, root: str | os.PathLike[str]) -> dict[str, Any]:
    """The archive's size: per outlet and month (from `captures`), and on disk per outlet."""
    months = [
        {
            "outlet": row[0],
            "month": row[1],
            "captures": row[2],
            "articles": row[3],
            "bytes": row[4] or 0,
        }
        for row in db.execute(
            "select outlet, substr(fetched, 1, 7) as month, count(*), "
            "count(distinct article_id), sum(length) from captures "
            "group by outlet, month order by outlet, month"
        )
    ]
    disk: dict[str, dict[str, int]] = {}
    root = Path(root)
    if root.is_dir():
        for path in root.rglob("*.warc.gz"):
            outlet = path.relative_to(root).parts[0]
            entry = disk.setdefault(outlet, {"files": 0, "bytes": 0})
            entry["files"] += 1
            entry["bytes"] += path.stat().st_size
    return {"months": months, "disk": disk}


# -- the crawl's side: a downloader middleware and the pipeline's hook --------------------------


class ArchiveMiddleware:
    """Archive every article fetch of a crawl, as received (before decompression, redirects and
    retries are handled by Scrapy's middlewares), and queue its `captures` row for StorePipeline.

    A request is archived when its callback is the spider's `parse_article` or its meta has
    `archive` set (rechecks). MONITOR_WARC = False turns the archive off.
    """

    def __init__(self, crawler: Any):
        self.crawler = crawler
        settings = crawler.settings
        self.enabled = settings.getbool("MONITOR_WARC", True)
        self.archive = Archive(
            archive_dir(settings.get("MONITOR_DB")),
            settings.getint("MONITOR_WARC_MAX_BYTES", DEFAULT_MAX_BYTES),
        )
        crawler.monitor_captures = []  # taken by store_captures()
        from scrapy import signals

        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchiveMiddleware:
        return cls(crawler)

    def spider_closed(self) -> None:
        self.archive.close()

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if not self.enabled:
            return response
        callback = getattr(request.callback, "__name__", "")
        if callback != "parse_article" and not request.meta.get("archive"):
            return response
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import threads

        # Built and compressed in a thread (zlib and hashlib let go of the GIL), so the
        # reactor goes on downloading meanwhile.
        spider = self.crawler.spider
        try:
            capture = await maybe_deferred_to_future(
                threads.deferToThread(
                    self.archive.write,
                    outlet=spider.outlet.slug,
                    url=response.url,
                    method=request.method,
                    request_headers=_header_pairs(request.headers),
                    status=response.status,
                    response_headers=_header_pairs(response.headers),
                    body=response.body,
                    protocol=getattr(response, "protocol", None) or "HTTP/1.1",
                    kind=request.meta.get("archive") or "crawl",
                )
            )
        except OSError as exc:  # a full disk must not stop the crawl; the failure is logged
            logger.error("cannot archive %s: %s", response.url, exc)
            self.crawler.stats.inc_value("monitor/archive_errors")
            return response
        self.crawler.monitor_captures.append(capture)
        self.crawler.stats.inc_value("monitor/archived")
        self.crawler.stats.inc_value("monitor/archived_bytes", capture.length)
        return response


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    pairs = []
    for name, values in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for value in values:
            pairs.append((key, value.decode("latin-1") if isinstance(value, bytes) else value))
    return pairs


def store_captures(db: Any, crawler: Any) -> None:
    """Insert the crawl's queued `captures` rows (inside the caller's transaction)."""
    pending = getattr(crawler, "monitor_captures", None)
    if not pending:
        return
    taken = list(pending)
    del pending[: len(taken)]
    try:
        save_captures(db, taken)
    except BaseException:
        pending[:0] = taken  # the transaction failed: try again with the next flush
        raise


def save_captures(db: Any, captures: Iterable[Capture]) -> None:
    """Insert `captures` rows, linked to the stored article at their URL when there is one."""
    for capture in captures:
        db.execute(
            "INSERT INTO captures (article_id, url, outlet, file, offset, length, status, "
            "fetched, digest, content_type, kind) VALUES ((SELECT id FROM articles WHERE url = ?1 "
            "UNION ALL SELECT article_id FROM aliases WHERE url = ?1 LIMIT 1), "
            "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            [
                capture.url,
                capture.outlet,
                capture.file,
                capture.offset,
                capture.length,
                capture.status,
                capture.fetched,
                capture.digest,
                capture.content_type,
                capture.kind,
            ],
        )


def link_captures(db: Any, article_id: int, urls: Iterable[str]) -> None:
    """Link the unlinked captures of these URLs to the article they led to."""
    urls = list(dict.fromkeys(urls))
    if not urls:
        return
    marks = ", ".join("?" * len(urls))
    db.execute(
        f"UPDATE captures SET article_id = ? WHERE article_id IS NULL AND url IN ({marks})",
        [article_id, *urls],
    )
