"""Rechecks: stored articles fetched again after publication, to catch silent edits and removals.

Each article to watch (those matching a topic; every article with MONITOR_RECHECK_SCOPE=all)
is checked SCHEDULE after its publication (1 hour, 1 day, 7 days, 30 days); a check that is
late catches up once, not once per missed turn. A check is a conditional GET (the ETag and
Last-Modified of the previous answer), as polite as a crawl: robots.txt obeyed, the crawl's
User-Agent, a delay between requests to a site, timeouts and a size cap, and at most `budget`
requests per outlet and run so rechecks never crowd out discovery. Every answer is archived
(monitor/archive.py, kind "recheck").

What an answer means:
- 304, or 200 with the same text: still there; a 200 with another title, lead or text is a
  silent edit and becomes a version (`replaced_by` = "recheck");
- 404 or 410, a redirect to the home page or a section, a page saying the material was removed
  ("материал удалён", "материал жойылды"), or robots.txt now forbidding the URL: gone; it becomes
  a `removals` row (with the status, final URL, time and the archived answer) only when the next
  check says so again; everything archived before is kept;
- anything else (5xx, 429, a timeout, a refused connection) is transient: counted, checked again
  after a growing delay (15 minutes, 30, ... at most a day), never a removal.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import sqlite_utils

from monitor import archive, dates, db, extraction, outlets

logger = logging.getLogger("monitor.recheck")

SCHEDULE = (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30))
SOFT_404 = re.compile(
    r"материал\s+(был\s+)?удал[её]н|материал\s+жойылды|страница\s+(не\s+найдена|удалена)"
    r"|бет\s+табылмады|жарияланым\s+жойылды",
    re.I,
)
MAX_REDIRECTS = 5
TRANSIENT_BACKOFF = timedelta(minutes=15)


@dataclass
class Politeness:
    """How rechecks treat a site: as crawls do (monitor/settings.py)."""

    user_agent: str
    delay: float = 1.0
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    budget: int = 200  # requests per outlet and run


@dataclass
class Answer:
    """What one check found."""

    status: int | None
    final_url: str
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    capture: archive.Capture | None = None
    error: str = ""
    robots: bool = False
    hops: list[tuple[int, str]] = field(default_factory=list)
    captures: list[archive.Capture] = field(default_factory=list)  # every hop, archived

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Report:
    """What a run of rechecks found."""

    checked: int = 0
    alive: int = 0
    edited: list[str] = field(default_factory=list)
    suspected: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)
    over_budget: int = 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Fetcher:
    """Polite HTTP GETs, one hop at a time, every answer archived."""

    def __init__(self, store: archive.Archive, politeness: Politeness):
        self.store = store
        self.polite = politeness
        self.opener = urllib.request.build_opener(_NoRedirect)
        self.robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self.last: dict[str, float] = {}
        self.requests = 0

    def _wait(self, host: str) -> None:
        since = time.monotonic() - self.last.get(host, -1e9)
        if since < self.polite.delay:
            time.sleep(self.polite.delay - since)
        self.last[host] = time.monotonic()

    def allowed(self, url: str) -> bool:
        split = urlsplit(url)
        origin = f"{split.scheme}://{split.netloc}"
        if origin not in self.robots:
            parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
            try:
                self._wait(split.netloc)
                self.requests += 1
                request = urllib.request.Request(
                    origin + "/robots.txt", headers={"User-Agent": self.polite.user_agent}
                )
                with self.opener.open(request, timeout=self.polite.timeout) as response:
                    parser.parse(response.read(512 * 1024).decode("utf-8", "replace").splitlines())
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    parser.disallow_all = True
                else:
                    parser.allow_all = True  # no robots.txt: everything allowed
            except OSError:
                parser = None  # unreachable: the checks themselves will say so
            self.robots[origin] = parser
        parser = self.robots[origin]
        return parser is None or parser.can_fetch(self.polite.user_agent, url)

    def get(self, url: str, outlet: str, validators: dict[str, str | None]) -> Answer:
        """GET `url` conditionally, following redirects by hand (each hop archived)."""
        hops: list[tuple[int, str]] = []
        captures: list[archive.Capture] = []
        for _ in range(MAX_REDIRECTS + 1):
            if not self.allowed(url):
                return Answer(
                    None,
                    url,
                    robots=True,
                    hops=hops,
                    error="forbidden by robots.txt",
                    captures=captures,
                )
            headers = {"User-Agent": self.polite.user_agent, "Accept-Encoding": "identity"}
            if not hops:
                if validators.get("etag"):
                    headers["If-None-Match"] = validators["etag"]
                if validators.get("last_modified"):
                    headers["If-Modified-Since"] = validators["last_modified"]
            request = urllib.request.Request(url, headers=headers)
            self._wait(urlsplit(url).netloc)
            self.requests += 1
            try:
                response = self.opener.open(request, timeout=self.polite.timeout)
            except urllib.error.HTTPError as exc:
                response = exc
            except (OSError, ValueError) as exc:
                return Answer(
                    None, url, hops=hops, error=f"{type(exc).__name__}: {exc}", captures=captures
                )
            try:
                status = response.status if hasattr(response, "status") else response.code
                body = response.read(self.polite.max_bytes + 1) or b""
                reply_headers = list(response.headers.items())
            except (OSError, ValueError) as exc:
                return Answer(
                    None, url, hops=hops, error=f"{type(exc).__name__}: {exc}", captures=captures
                )
            finally:
                response.close()
            if len(body) > self.polite.max_bytes:
                return Answer(None, url, hops=hops, error="response too large", captures=captures)
            capture = self.store.write(
                outlet=outlet,
                url=url,
                method="GET",
                request_headers=list(headers.items()),
                status=status,
                response_headers=reply_headers,
                body=body,
                kind="recheck",
            )
            hops.append((status, url))
            captures.append(capture)
            answer = Answer(status, url, body, reply_headers, capture, hops=hops, captures=captures)
            location = answer.header("Location")
            if status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            return answer
        return Answer(None, url, hops=hops, error="too many redirects", captures=captures)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _published(value: str | None, fallback: str | None) -> datetime:
    moment = dates.parse_datetime(value) or dates.parse_datetime(fallback)
    return (moment or _now()).astimezone(UTC)


def _next_due(published: datetime, now: datetime) -> tuple[int, str | None]:
    """The next step of the schedule after `now` and its time (None: the schedule is done)."""
    for step, delay in enumerate(SCHEDULE):
        if published + delay > now:
            return step, (published + delay).isoformat()
    return len(SCHEDULE), None


def plan(
    database: sqlite_utils.Database,
    scope: str = "matched",
    everything: bool = False,
    root: str | None = None,
) -> int:
    """Give every article to watch that has none a recheck schedule; return how many.

    `everything` (`monitor recheck --all`): the articles outside `scope` get a row too, so their
    check is recorded, but no schedule (due stays empty): only --all checks them again. The
    validators (ETag, Last-Modified) come from the crawl's archived answer in `root`, so even
    the first recheck is conditional."""
    watched = "a.id in (select article_id from matches)" if scope != "all" else "1"
    rows = database.execute(
        f"select a.id, a.published, a.fetched, {watched} from articles a "
        "where a.source = 'crawl' and a.id not in (select article_id from rechecks)"
    ).fetchall()
    added = 0
    with db.writing(database):
        for article_id, published, fetched, in_scope in rows:
            if not in_scope and not everything:
                continue
            first = _published(published, fetched) + SCHEDULE[0]
            etag, modified = _validators(database, root, article_id)
            database.execute(
                "insert into rechecks (article_id, due, step, transient, gone_count, etag, "
                "last_modified) values (?, ?, 0, 0, 0, ?, ?)",
                [article_id, first.isoformat() if in_scope else None, etag, modified],
            )
            added += in_scope
    return added


def _validators(
    database: sqlite_utils.Database, root: str | None, article_id: int
) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified of the article's latest archived 200 answer, if any."""
    if root is None:
        return None, None
    row = database.execute(
        "select file, offset, length from captures where article_id = ? and status = 200 "
        "order by fetched desc, id desc limit 1",
        [article_id],
    ).fetchone()
    if row is None:
        return None, None
    try:
        record = archive.read_capture(root, *row)
    except (OSError, ValueError):
        return None, None
    return record.header("ETag"), record.header("Last-Modified")


def _in_scope(database: sqlite_utils.Database, article_id: int, scope: str) -> bool:
    if scope == "all":
        return True
    found = database.execute("select 1 from matches where article_id = ? limit 1", [article_id])
    return found.fetchone() is not None


def classify(answer: Answer, entry: outlets.Outlet, url: str) -> str | None:
    """Why an answer says the article is gone (None: it is there, or the failure is transient)."""
    if answer.robots:
        return "forbidden by robots.txt"
    if answer.status in (404, 410):
        return "gone"
    if answer.status == 200:
        if len(answer.hops) > 1 and answer.final_url != url:
            split = urlsplit(answer.final_url)
            local = entry.with_base_url(f"{split.scheme}://{split.netloc}")
            if split.path in ("", "/") or not local.is_article(answer.final_url):
                return "redirect to the home page or a section"
        head = answer.body[:200_000].decode("utf-8", "replace")
        title = " ".join(re.findall(r"<(?:title|h1)[^>]*>(.*?)</(?:title|h1)>", head, re.I | re.S))
        if SOFT_404.search(title):
            return "page says the material was removed"
    return None


def _transient(answer: Answer) -> bool:
    return answer.status is None or answer.status >= 500 or answer.status in (408, 429)


def run(
    db_path: str,
    registry: dict[str, outlets.Outlet],
    slugs: list[str],
    politeness: Politeness,
    *,
    every: bool = False,
    scope: str = "matched",
    topics_path: str | None = None,
    say: Callable[[str], None] = print,
) -> Report:
    """Run the due rechecks of these outlets (`every`: all their stored articles, now)."""
    database = db.open_db(db_path)
    plan(database, scope, everything=every, root=str(archive.archive_dir(db_path)))
    now = _now()
    where, params = ["a.outlet in (" + ", ".join("?" * len(slugs)) + ")"], list(slugs)
    if not every:
        where.append("r.due is not null and r.due <= ?")
        params.append(now.isoformat())
    rows = database.execute(
        "select a.id, a.url, a.outlet, a.published, a.fetched, r.etag, r.last_modified, "
        "r.gone, r.gone_count, r.transient from articles a join rechecks r "
        f"on r.article_id = a.id where {' and '.join(where)} "
        "and a.id not in (select article_id from removals) order by r.due, a.id",
        params,
    ).fetchall()
    store = archive.Archive(archive.archive_dir(db_path))
    fetcher = Fetcher(store, politeness)
    report = Report()
    spent: dict[str, int] = {}
    topics = None
    try:
        for row in rows:
            article_id, url, outlet, published, fetched, etag, modified, gone, gone_count, bad = row
            if spent.get(outlet, 0) >= politeness.budget:
                report.over_budget += 1
                continue
            before = fetcher.requests
            answer = fetcher.get(url, outlet, {"etag": etag, "last_modified": modified})
            spent[outlet] = spent.get(outlet, 0) + fetcher.requests - before
            report.checked += 1
            entry = registry[outlet]
            reason = classify(answer, entry, url)
            with db.writing(database):
                capture_id = None
                for capture in answer.captures:
                    archive.save_captures(database, [capture])
                    capture_id = database.execute("select last_insert_rowid()").fetchone()[0]
                    database.execute(
                        "update captures set article_id = ? where id = ?", [article_id, capture_id]
                    )
                state: dict[str, Any] = {"checked": now.isoformat(), "status": answer.status}
                if reason is not None:
                    if gone and (gone_count or 0) >= 1:  # the second permanent answer in a row
                        _remove(database, article_id, url, answer, gone, reason, capture_id)
                        report.removed.append(f"{url} ({reason})")
                        state.update(gone=reason, gone_count=(gone_count or 0) + 1, due=None)
                    else:
                        report.suspected.append(f"{url} ({reason})")
                        state.update(gone=reason, gone_count=1, due=now.isoformat())
                    state["transient"] = 0
                    database["rechecks"].update(article_id, state)
                    continue
                if _transient(answer):
                    report.transient.append(f"{url} ({answer.error or f'HTTP {answer.status}'})")
                    # Tried again later, sooner the first times: 15 min, 30 min, ... a day.
                    backoff = TRANSIENT_BACKOFF * 2 ** min(bad or 0, 10)
                    due = now + min(backoff, timedelta(days=1))
                    state.update(transient=(bad or 0) + 1, due=due.isoformat())
                    database["rechecks"].update(article_id, state)
                    continue
                report.alive += 1
                step, due = _next_due(_published(published, fetched), now)
                if not _in_scope(database, article_id, scope):
                    due = None  # checked by --all only
                state.update(
                    step=step,
                    due=due,
                    transient=0,
                    gone=None,
                    gone_count=0,
                    etag=answer.header("ETag") or etag,
                    last_modified=answer.header("Last-Modified") or modified,
                )
                database["rechecks"].update(article_id, state)
            if answer.status == 200:
                if topics is None:
                    from monitor.matching import load_topics

                    topics = load_topics(topics_path)
                if _silent_edit(database, article_id, url, outlet, answer, entry, topics):
                    report.edited.append(url)
    finally:
        store.close()
    for line in report.removed:
        say(f"removed: {line}")
    for line in report.suspected:
        say(f"gone once, to confirm: {line}")
    for line in report.edited:
        say(f"edited: {line}")
    for line in report.transient:
        say(f"transient failure: {line}")
    return report


def _remove(
    database: sqlite_utils.Database,
    article_id: int,
    url: str,
    answer: Answer,
    first_reason: str,
    reason: str,
    capture_id: int | None,
) -> None:
    """Record a removal, with both checks that found it as evidence."""
    first = database.execute(
        "select checked, status from rechecks where article_id = ?", [article_id]
    ).fetchone()
    evidence = [
        {"checked": first[0], "status": first[1], "reason": first_reason},
        {
            "checked": _now().isoformat(),
            "status": answer.status,
            "reason": reason,
            "hops": answer.hops,
        },
    ]
    database["removals"].insert(
        {
            "article_id": article_id,
            "url": url,
            "detected": _now().isoformat(),
            "reason": reason,
            "status": answer.status,
            "final_url": answer.final_url if answer.final_url != url else None,
            "capture_id": capture_id,
            "evidence": json.dumps(evidence, ensure_ascii=False),
        },
        replace=True,
    )


def _silent_edit(
    database: sqlite_utils.Database,
    article_id: int,
    url: str,
    outlet: str,
    answer: Answer,
    entry: outlets.Outlet,
    topics: list[Any],
) -> bool:
    """Extract a 200 answer; store it as a version if the text changed. True if it did."""
    from monitor.matching import match

    try:
        fields = extraction.extract(
            answer.body, answer.final_url, answer.header("Content-Type"), entry.extraction
        )
    except extraction.ExtractionError:
        return False
    current = database.execute(
        "select lastmod, source from articles where id = ?", [article_id]
    ).fetchone()
    fields.update(
        url=url,
        outlet=outlet,
        lastmod=current[0],
        source=current[1],
        extraction_version=extraction.EXTRACTION_VERSION,
    )
    with db.writing(database):
        status, _ = db.save_article(database, fields)
        if status != "updated":
            return False
        database.execute(
            "update versions set replaced_by = 'recheck' where id = "
            "(select max(id) from versions where article_id = ?)",
            [article_id],
        )
        db.save_matches(database, article_id, match(topics, fields))
    return True


def scheduled(db_path: str, outlets_path: str, topics_path: str, slugs: list[str]) -> int:
    """The scheduler's job: `monitor recheck SLUGS` in a subprocess (a crash or a hang never
    takes the scheduler down); its report goes to the log. Returns the exit status."""
    cmd = [sys.executable, "-m", "monitor", "--db", db_path, "--outlets", outlets_path]
    cmd += ["--topics", topics_path, "recheck", *slugs]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired:
        logger.error("rechecks did not finish within an hour; stopped")
        return 1
    for line in done.stdout.splitlines():
        logger.info("%s", line)
    if done.returncode != 0:
        logger.error("rechecks failed (exit %d): %s", done.returncode, done.stderr[-500:])
    return done.returncode
