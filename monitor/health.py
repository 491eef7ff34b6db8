"""Outlet health: whether each outlet still works, judged from its own history, with a reason.

An outlet is **unhealthy** when its last crawl failed (no feed, sitemap or listing answered:
the first error says why, "no network" when the name or route could not be found), when one of
its feeds, sitemaps or listings answers with an error while others work, when robots.txt
forbids us, when no new article came for several times its usual gap in the hours and weekdays
it normally publishes (its rhythm is learnt from the publication times of its articles), when
extraction degrades (most recent pages refused, titles or dates missing, text much shorter than
the outlet's usual, a line of page chrome repeated in most new articles), or when it has not
been crawled for a long time. Otherwise it is
**healthy**; one never crawled is **unknown**.

check() evaluates every outlet, records the states in `outlet_health` (Datasette shows them)
and queues a notification when an outlet becomes unhealthy or recovers: once per change.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from monitor import dates, db
from monitor.outlets import Outlet

HISTORY = timedelta(days=28)  # how far back an outlet's rhythm is learnt
MIN_ARTICLES = 10  # fewer articles than this: still learning the rhythm
SILENCE_GAPS = 6  # unhealthy after this many usual gaps without a new article...
MIN_SILENCE = 120  # ...and never before this many minutes of usual publishing hours
RECENT = 10  # the latest pages judged for extraction quality
REFUSALS = ("no article text found", "no title found", "empty body", "unparseable HTML")
_NO_NETWORK = re.compile(
    r"DNSLookupError|DNS lookup failed|Name or service not known|name resolution|"
    r"Network is unreachable|No route to host|NoRouteError",
    re.I,
)


@dataclass
class OutletHealth:
    outlet: str
    state: str  # healthy, unhealthy, unknown
    reason: str
    since: str | None = None
    last_success: str | None = None
    changed: bool = False  # the state differs from the one recorded before this check


def describe_error(url: str | None, status: int | None, reason: str) -> str:
    """A failure as a person reads it; a missing network is said as such."""
    where = urlsplit(url).path or url if url else "?"
    if _NO_NETWORK.search(reason or ""):
        host = urlsplit(url).netloc if url else "the site"
        return f"no network: {host} cannot be reached ({reason[:120]})"
    if "ConnectionRefused" in (reason or "") or "Connection was refused" in (reason or ""):
        return f"{where}: connection refused (the server is down)"
    if status:
        return f"{where} answered HTTP {status}"
    return f"{where}: {reason}"


def evaluate(database: Any, outlet: Outlet, now: datetime | None = None) -> OutletHealth:
    """The health of one outlet now, from its crawls, failures and articles."""
    now = now or datetime.now(UTC)
    slug = outlet.slug
    crawls = database.execute(
        "SELECT id, started, finished, status FROM crawls WHERE outlet = ? "
        "AND status NOT IN ('running', 'stopped') ORDER BY id DESC LIMIT 20",
        [slug],
    ).fetchall()
    success = database.execute(
        "SELECT max(finished) FROM crawls WHERE outlet = ? AND status = 'ok'", [slug]
    ).fetchone()[0]
    if not crawls:
        return OutletHealth(slug, "unknown", "never crawled")
    problems: list[str] = []
    last_id, _, last_finished, last_status = crawls[0]
    if last_status != "ok":
        failed = next((i for i, c in enumerate(crawls) if c[3] == "ok"), len(crawls))
        first = database.execute(
            "SELECT url, status, reason FROM failures WHERE crawl_id = ? ORDER BY id LIMIT 1",
            [last_id],
        ).fetchone()
        robots = _robots(database, slug, last_id)
        if first:
            why = describe_error(*first)
        else:
            why = robots or "no feed, sitemap or listing answered"
        runs = f"the last {failed} crawls" if failed > 1 else "the last crawl"
        verb = "timed out" if last_status == "timed out" else "failed"
        problems.append(f"{runs} {verb}: {why}")
    else:
        problems += _discovery_errors(database, outlet, last_id)
    if last_status == "ok":
        robots = _robots(database, slug, last_id)
        problems += [robots] if robots else []
    rhythm = Rhythm.learn(database, slug, dates.parse_datetime(success) if success else None)
    if success and not problems:
        stale = rhythm.silence_problem()
        if stale:
            problems.append(stale)
    problems += _extraction_problems(database, slug)
    if success:
        limit = max(3 * outlet.every, 6 * 3600)
        age = (now - dates.parse_datetime(success)).total_seconds()
        if age > limit:
            problems.append(
                f"no successful crawl for {_duration(age / 60)} (is the scheduler running?)"
            )
    if problems:
        return OutletHealth(slug, "unhealthy", "; ".join(problems), None, success)
    return OutletHealth(slug, "healthy", rhythm.describe(), None, success)


def _discovery_errors(database: Any, outlet: Outlet, crawl_id: int) -> list[str]:
    """Feeds, sitemaps or listings that failed in a crawl that otherwise worked."""
    paths = {
        urlsplit(outlet.url(p)).path for p in (*outlet.feeds, *outlet.sitemaps, *outlet.listings)
    }
    rows = database.execute(
        "SELECT url, status, reason FROM failures WHERE crawl_id = ? ORDER BY id", [crawl_id]
    ).fetchall()
    found = [describe_error(*r) for r in rows if urlsplit(r[0]).path in paths]
    return list(dict.fromkeys(found))


def _robots(database: Any, slug: str, crawl_id: int) -> str | None:
    """robots.txt forbids requests in this crawl though it forbade none in the outlet's first.

    The first crawl is the baseline: an outlet whose robots.txt always forbade some pages (the
    query URLs of Sputnik's "load more", say) is not unhealthy for it; one that forbids its
    feeds, sitemaps and listings from the start fails its crawl, which says why."""
    first_id, first_count = database.execute(
        "SELECT id, robots_forbidden FROM crawls WHERE outlet = ? ORDER BY id LIMIT 1", [slug]
    ).fetchone()
    forbidden = database.execute(
        "SELECT robots_forbidden FROM crawls WHERE id = ?", [crawl_id]
    ).fetchone()[0]
    if forbidden and first_id != crawl_id and not first_count:
        return f"robots.txt forbids us: {forbidden} request(s) not made"
    return None


def _extraction_problems(database: Any, slug: str) -> list[str]:
    """Compare the latest pages with the outlet's usual: refusals, missing fields, length."""
    refusal = " OR ".join(["f.reason LIKE ?"] * len(REFUSALS))
    rows = database.execute(
        "SELECT * FROM ("
        "SELECT 'article' AS kind, fetched AS at, coalesce(title, '') = '' AS no_title, "
        "published IS NULL AS no_date, length(coalesce(text, '')) AS size, NULL AS reason "
        "FROM articles WHERE outlet = ? AND source = 'crawl' "
        "UNION ALL SELECT 'refused', f.at, NULL, NULL, NULL, f.reason FROM failures f "
        f"JOIN crawls c ON c.id = f.crawl_id WHERE c.outlet = ? AND ({refusal})"
        ") ORDER BY at DESC LIMIT 300",
        [slug, slug, *(f"{r}%" for r in REFUSALS)],
    ).fetchall()
    recent, usual = rows[:RECENT], rows[RECENT:]
    if len(recent) < 3:
        return []
    problems = []
    refused = [r for r in recent if r[0] == "refused"]
    if len(refused) * 2 >= len(recent):
        common = max({r[5] for r in refused}, key=[r[5] for r in refused].count)
        problems.append(
            f"extraction refused {len(refused)} of the last {len(recent)} pages ({common})"
        )
    articles = [r for r in recent if r[0] == "article"]
    usual_articles = [r for r in usual if r[0] == "article"]
    if len(articles) >= 3 and len(usual_articles) >= MIN_ARTICLES:
        for index, what in ((2, "title"), (3, "date")):
            share = sum(r[index] for r in articles) / len(articles)
            before = sum(r[index] for r in usual_articles) / len(usual_articles)
            if share >= 0.5 and before < 0.2:
                n = sum(r[index] for r in articles)
                problems.append(f"{n} of the last {len(articles)} articles have no {what}")
        problems += _chrome(database, slug, len(articles))
        size = statistics.median(r[4] for r in articles)
        normal = statistics.median(r[4] for r in usual_articles)
        if size < 0.4 * normal:
            problems.append(
                f"text much shorter than usual: median {size:,.0f} characters in the last "
                f"{len(articles)} articles, usually {normal:,.0f}"
            )
    return problems


def _chrome(database: Any, slug: str, recent: int) -> list[str]:
    """A line repeated in most of the latest articles that the outlet's usual ones lack: page
    chrome (a subscribe call, a related-links heading) that extraction no longer removes."""
    texts = [
        row[0] or ""
        for row in database.execute(
            "SELECT text FROM articles WHERE outlet = ? AND source = 'crawl' "
            "ORDER BY fetched DESC, id DESC LIMIT ?",
            [slug, recent + 100],
        )
    ]
    latest, usual = texts[:recent], texts[recent:]

    def lines(text: str) -> set[str]:
        return {ln.strip() for ln in text.splitlines() if 12 <= len(ln.strip()) <= 200}

    counts: dict[str, int] = {}
    for text in latest:
        for line in lines(text):
            counts[line] = counts.get(line, 0) + 1
    repeated = [ln for ln, n in counts.items() if n * 2 > len(latest) and n >= 3]
    if not repeated or not usual:
        return []
    before = [lines(text) for text in usual]
    for line in sorted(repeated, key=lambda ln: -counts[ln]):
        if sum(line in b for b in before) * 10 < len(before):
            shown = line if len(line) <= 60 else line[:59] + "…"
            return [f"page chrome in {counts[line]} of the last {len(latest)} articles: «{shown}»"]
    return []


class Rhythm:
    """When an outlet publishes: new articles per hour by hour of day and weekday."""

    def __init__(self, times: list[datetime], until: datetime | None):
        self.times = sorted(times)
        self.until = until
        self.hours: set[int] = set()
        self.weekdays: set[int] = set(range(7))
        self.gap = 0.0  # minutes between articles in publishing hours
        self.learning = len(self.times) < MIN_ARTICLES or until is None
        if not self.times or until is None:
            return
        start = max(self.times[0], until - HISTORY)
        days = max(1.0, (until - start).total_seconds() / 86400)
        window = [t for t in self.times if t >= start]
        if len(window) < MIN_ARTICLES:
            self.learning = len(self.times) < MIN_ARTICLES
            return
        per_hour = [0] * 24
        per_day = [0] * 7
        for t in window:
            per_hour[t.hour] += 1
            per_day[t.weekday()] += 1
        self.hours = {h for h in range(24) if per_hour[h] / days >= 0.1}
        if days >= 14:
            top = max(per_day)
            self.weekdays = {d for d in range(7) if per_day[d] >= 0.3 * top}
        in_hours = sum(1 for t in window if t.hour in self.hours and t.weekday() in self.weekdays)
        # Learnt up to the last article, so that a silence does not stretch the usual gap.
        self.gap = self.active_minutes(start, min(until, self.times[-1])) / max(in_hours, 1)

    @classmethod
    def learn(cls, database: Any, slug: str, until: datetime | None) -> Rhythm:
        sql = (
            "SELECT coalesce(published, fetched) FROM articles "
            "WHERE outlet = ? AND source = 'crawl'"
        )
        rows: list = []
        if until is not None:  # ISO dates compare as text to within a day: a margin of two
            cutoff = (until - HISTORY - timedelta(days=2)).strftime("%Y-%m-%d")
            rows = database.execute(
                sql + " AND coalesce(published, fetched) >= ?", [slug, cutoff]
            ).fetchall()
        if len(rows) < MIN_ARTICLES:  # little recent history: all of it
            rows = database.execute(sql, [slug]).fetchall()
        times = []
        for (value,) in rows:
            dt = dates.parse_datetime(value)
            if dt is not None:
                times.append(dt.astimezone(dates.ALMATY))
        return cls(times, until.astimezone(dates.ALMATY) if until else None)

    @property
    def last(self) -> datetime | None:
        return self.times[-1] if self.times else None

    def active_minutes(self, start: datetime, end: datetime) -> float:
        """Minutes between start and end that fall in the outlet's publishing hours."""
        total = 0.0
        t = start
        while t < end:
            step = min(end, t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
            if t.hour in self.hours and t.weekday() in self.weekdays:
                total += (step - t).total_seconds() / 60
            t = step
        return total

    def silence_problem(self) -> str | None:
        """Why the outlet looks silent, or None."""
        if not self.times or self.until is None:
            return None
        last = min(self.last, self.until)
        if self.until - last > HISTORY and len(self.times) >= MIN_ARTICLES:
            return (
                f"no new article since {last:%Y-%m-%d %H:%M} "
                f"({_duration((self.until - last).total_seconds() / 60)})"
            )
        if self.learning or not self.hours:
            return None
        silent = self.active_minutes(last, self.until)
        if silent >= max(SILENCE_GAPS * self.gap, MIN_SILENCE):
            return (
                f"no new article for {_duration((self.until - last).total_seconds() / 60)} "
                f"(since {last:%Y-%m-%d %H:%M}); usually one every {_duration(self.gap)} "
                f"{self.hours_text()}"
            )
        return None

    def hours_text(self) -> str:
        """The publishing hours as ranges: 'between 08:00 and 22:00'."""
        spans: list[list[int]] = []
        for h in sorted(self.hours):
            if spans and spans[-1][1] == h:
                spans[-1][1] = h + 1
            else:
                spans.append([h, h + 1])
        if len(spans) > 1 and spans[0][0] == 0 and spans[-1][1] == 24:
            spans[0][0] = spans.pop()[0]  # a span across midnight
        if len(spans) == 1 and spans[0][1] - spans[0][0] in (0, 24):
            text = "at any hour"
        else:
            text = " and ".join(
                f"between {a % 24:02d}:00 and {b % 24:02d}:00" for a, b in spans[:3]
            )
        if self.weekdays != set(range(7)):
            names = "Mon Tue Wed Thu Fri Sat Sun".split()
            text += " on " + ", ".join(names[d] for d in sorted(self.weekdays))
        return text

    def describe(self) -> str:
        if not self.times:
            return "no article yet"
        last = f"last new article {self.last:%Y-%m-%d %H:%M}"
        if self.learning or not self.hours:
            return f"{last}; still learning its rhythm ({len(self.times)} articles)"
        return f"{last}; usually one every {_duration(self.gap)} {self.hours_text()}"


def _duration(minutes: float) -> str:
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.0f} days"


def check(
    database: Any, outlets: list[Outlet], config: Any = None, now: datetime | None = None
) -> list[OutletHealth]:
    """Evaluate every outlet, record the states and queue a notification per change."""
    from monitor import notify, outbox

    now = now or datetime.now(UTC)
    results = []
    for outlet in outlets:
        result = evaluate(database, outlet, now)
        with db.writing(database):
            before = database.execute(
                "SELECT state, reason, since FROM outlet_health WHERE outlet = ?", [outlet.slug]
            ).fetchone()
            changed = before is None or before[0] != result.state
            result.changed = changed
            result.since = db.now() if changed else before[2]
            database["outlet_health"].upsert(
                {
                    "outlet": outlet.slug,
                    "state": result.state,
                    "reason": result.reason,
                    "since": result.since,
                    "last_success": result.last_success,
                    "checked": db.now(),
                },
                pk="outlet",
            )
            previous = before[0] if before else None
            notable = result.state == "unhealthy" or previous == "unhealthy"
            if changed and notable and config is not None and config.destinations:
                title, body = notify.format_health(
                    outlet.slug, result.state, result.reason, before[1] if before else None
                )
                payload = {"outlet": outlet.slug, "state": result.state, "reason": result.reason}
                outbox.enqueue_health(database, config, outlet.slug, title, body, payload)
        results.append(result)
    return results
