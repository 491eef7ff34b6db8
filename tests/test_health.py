"""Outlet health end to end: replica outlets on loopback that publish on a rhythm, stop
publishing, change their layout or lose their feed; real crawls, `monitor health`, and the
health alerts delivered to a webhook receiver."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from monitor import dates, db
from monitor.health import check
from monitor.outlets import load as load_outlets
from monitor.replica.server import ReplicaServer, Reply, Site
from monitor.serve import datasette
from tests.conftest import run_monitor, scrapy_crawl
from tests.receivers import SmtpReceiver, WebhookReceiver

WORDS = (
    "акимат городской совет дороги школы больницы транспорт тарифы бюджет парк реконструкция "
    "жители район проект строительство отопление водопровод маршрут остановка площадь улица"
).split()


CHROME = "Курсы валют на сегодня: доллар 470,5 тенге, евро 512,3 тенге, рубль 5,1 тенге"


class RhythmSite(Site):
    """An outlet that published one article an hour between 08:00 and 22:00 (Almaty) over the
    last four days, up to `stop` hours ago. `shown`: how many of them its feed lists (the
    oldest first); `degraded_from`: articles from this index on are served in a new layout the
    extraction cannot read; `feed_status`: the feed's HTTP status."""

    def __init__(self, stop: float = 0.0):
        now = datetime.now(dates.ALMATY).replace(minute=0, second=0, microsecond=0)
        start = now - timedelta(days=4)
        self.times = []
        t = start
        while t <= now - timedelta(hours=stop):
            if 8 <= t.hour < 22:
                self.times.append(t)
            t += timedelta(hours=1)
        self.shown = len(self.times)
        self.degraded_from: int | None = None
        self.chrome_from: int | None = None  # articles from here on end with a CHROME line
        self.teaser = False  # the new layout: an app shell (False) or a one-line teaser
        self.feed_status = 200
        self.robots = "User-agent: *\nDisallow:\n"

    def publish_until_now(self) -> None:
        now = datetime.now(dates.ALMATY)
        t = self.times[-1] + timedelta(hours=1)
        while t <= now:
            if 8 <= t.hour < 22:
                self.times.append(t)
            t += timedelta(hours=1)
        if not (8 <= now.hour < 22):  # publishing resumed out of hours: one article now
            self.times.append(now.replace(microsecond=0))
        self.shown = len(self.times)

    def text(self, i: int) -> list[str]:
        paragraphs = []
        for p in range(5):
            words = [WORDS[(i * 7 + p * 3 + k) % len(WORDS)] for k in range(24)]
            paragraphs.append(f"Сообщение {i}, часть {p + 1}: " + " ".join(words) + ".")
        return paragraphs

    def reply(self, method, path, query, headers):
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/robots.txt":
            return Reply(body=self.robots.encode(), headers={"Content-Type": "text/plain"})
        if path == "/feed/":
            if self.feed_status != 200:
                return Reply(status=self.feed_status, body=b"gone", headers=html)
            items = "".join(
                f"<item><title>Новость {i}</title><link>{self.origin}/news/{i}/</link>"
                f"<pubDate>{t.strftime('%a, %d %b %Y %H:%M:%S %z')}</pubDate></item>"
                for i, t in enumerate(self.times[: self.shown])
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
            return Reply(body=body.encode(), headers={"Content-Type": "application/rss+xml"})
        if path.startswith("/news/") and path.rstrip("/").split("/")[-1].isdigit():
            i = int(path.rstrip("/").split("/")[-1])
            if i >= len(self.times):
                return Reply(status=404, body=b"not found", headers=html)
            if self.degraded_from is not None and i >= self.degraded_from and self.teaser:
                page = (
                    f"<html><head><title>Новость {i}</title></head><body><main>"
                    f"<h1>Новость {i}: городские новости</h1>"
                    "<p>Полный текст доступен в мобильном приложении редакции.</p>"
                    "</main></body></html>"
                )
            elif self.degraded_from is not None and i >= self.degraded_from:
                page = (
                    '<html><head><title>Портал</title></head><body><div id="app">'
                    "<nav>Главная · Новости · Контакты</nav><div>Загрузка…</div></div>"
                    "</body></html>"
                )
            else:
                t = self.times[i]
                paragraphs = "".join(f"<p>{p}</p>" for p in self.text(i))
                if self.chrome_from is not None and i >= self.chrome_from:
                    paragraphs += f"<p>{CHROME}</p>"
                page = (
                    f"<html><head><title>Новость {i}</title>"
                    f'<meta property="article:published_time" content="{t.isoformat()}">'
                    f"</head><body><article><h1>Новость {i}: городские новости</h1>"
                    f"{paragraphs}</article></body></html>"
                )
            return Reply(body=page.encode(), headers=html)
        return Reply(status=404, body=b"not found", headers=html)


def registry(tmp_path: Path, origin: str) -> Path:
    path = tmp_path / "outlets.yml"
    path.write_text(
        f"""outlets:
  - slug: rhythm
    name: Rhythm News
    base_url: {origin}
    feeds: [/feed/]
    article_pattern: '^/news/\\d+/$'
    every: 20
""",
        encoding="utf-8",
    )
    return path


def crawl(server: ReplicaServer, db_path: Path, outlets: Path, ok: bool = True) -> None:
    since = (datetime.now(UTC) - timedelta(days=6)).strftime("%Y-%m-%d")
    result = scrapy_crawl(
        "rhythm",
        db_path,
        f"since={since}",
        settings={"MONITOR_OUTLETS": str(outlets), "MONITOR_TOPICS": ""},
    )
    assert (result.returncode == 0) == ok, result.stderr[-3000:]


def health(db_path: Path, outlets: Path):
    return run_monitor("--db", str(db_path), "--outlets", str(outlets), "health")


def state(db_path: Path) -> dict:
    return next(sqlite_utils.Database(db_path)["outlet_health"].rows)


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


def configure(db_path: Path, hook: WebhookReceiver, smtp: SmtpReceiver | None = None) -> None:
    urls = [hook.url, smtp.url("ops@example.org")] if smtp else [hook.url]
    config = {"destinations": {"ops": urls}, "health": ["ops"]}
    (db_path.parent / "notify.yml").write_text(json.dumps(config), "utf-8")


def send(db_path: Path, outlets: Path) -> None:
    result = run_monitor("--db", str(db_path), "--outlets", str(outlets), "notify", "send")
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_outlet_on_its_rhythm_is_healthy(tmp_path, db_path):
    with ReplicaServer(RhythmSite()) as server:
        outlets = registry(tmp_path, server.origin)
        crawl(server, db_path, outlets)
        result = health(db_path, outlets)
    assert result.returncode == 0, result.stdout + result.stderr
    header, line = result.stdout.splitlines()
    assert header.split() == ["OUTLET", "STATE", "SINCE", "LAST", "SUCCESS", "REASON"]
    assert line.startswith("rhythm") and " healthy " in line
    assert re.search(r"usually one every (5[5-9]|6[0-5]) min between 08:00 and 22:00$", line)
    print("\n" + result.stdout)
    # Two days later without a crawl: the scheduler must have stopped.
    outlet = load_outlets(outlets)["rhythm"]
    later = datetime.now(UTC) + timedelta(days=2)
    (judged,) = check(db.open_db(db_path), [outlet], now=later)
    assert judged.state == "unhealthy"
    assert judged.reason == "no successful crawl for 2 days (is the scheduler running?)"


def test_an_outlet_that_stops_publishing_is_unhealthy_once_and_recovers(tmp_path, db_path, hook):
    site = RhythmSite(stop=24)
    with SmtpReceiver() as smtp, ReplicaServer(site) as server:
        configure(db_path, hook, smtp)
        outlets = registry(tmp_path, server.origin)
        crawl(server, db_path, outlets)
        result = health(db_path, outlets)
        assert result.returncode == 1, result.stdout + result.stderr
        assert " unhealthy " in result.stdout
        reason = state(db_path)["reason"]
        assert reason.startswith("no new article for 2") and " h (since " in reason
        assert re.search(r"usually one every (5[5-9]|6[0-5]) min between 08:00 and 22:00$", reason)
        print("\n" + result.stdout)
        assert health(db_path, outlets).returncode == 1  # still unhealthy: no second alert
        send(db_path, outlets)
        assert len(hook.bodies) == 1
        alert = hook.bodies[0]
        assert alert["title"] == "[health] rhythm is unhealthy"
        assert alert["message"] == f"rhythm is unhealthy: {reason}"

        site.publish_until_now()
        crawl(server, db_path, outlets)
        result = health(db_path, outlets)
        assert result.returncode == 0, result.stdout
        assert state(db_path)["state"] == "healthy"
        send(db_path, outlets)
        mails = smtp.texts()
    assert len(hook.bodies) == 2
    assert [m.split("\n", 1)[0] for m in mails] == [
        "Subject: [health] rhythm is unhealthy",
        "Subject: [health] rhythm recovered",
    ]
    assert reason in mails[0] and "healthy again" in mails[1]
    print("--- health alert and recovery by e-mail ---\n" + "\n".join(mails))
    recovered = hook.bodies[1]
    assert recovered["title"] == "[health] rhythm recovered"
    assert recovered["message"].startswith("rhythm is healthy again: last new article")
    assert f"(it was {reason})" in recovered["message"]
    print("--- health alert ---\n" + json.dumps(alert, ensure_ascii=False))
    print("--- recovery ---\n" + json.dumps(recovered, ensure_ascii=False))


@pytest.mark.parametrize("teaser", [False, True], ids=["app-shell", "teaser"])
def test_an_outlet_whose_layout_changes_is_unhealthy_for_its_extraction(tmp_path, db_path, teaser):
    site = RhythmSite()
    site.teaser = teaser
    with ReplicaServer(site) as server:
        outlets = registry(tmp_path, server.origin)
        crawl(server, db_path, outlets)
        assert health(db_path, outlets).returncode == 0
        site.degraded_from = len(site.times)
        now = datetime.now(dates.ALMATY).replace(microsecond=0)
        site.times += [now - timedelta(minutes=9 - k) for k in range(8)]
        site.shown = len(site.times)
        crawl(server, db_path, outlets)
        result = health(db_path, outlets)
    assert result.returncode == 1, result.stdout
    reason = state(db_path)["reason"]
    if teaser:
        assert reason.startswith("8 of the last 10 articles have no date; ")
        assert re.search(
            r"text much shorter than usual: median \d+ characters in the last 10 articles, "
            r"usually [\d,]+",
            reason,
        ), reason
    else:
        assert reason == "extraction refused 8 of the last 10 pages (no article text found)"
    print("\n" + result.stdout)


def test_an_outlet_whose_feed_404s_is_unhealthy_with_the_reason(tmp_path, db_path, hook):
    site = RhythmSite()
    configure(db_path, hook)
    with ReplicaServer(site) as server:
        outlets = registry(tmp_path, server.origin)
        crawl(server, db_path, outlets)
        assert health(db_path, outlets).returncode == 0
        site.feed_status = 404
        crawl(server, db_path, outlets, ok=False)
        result = health(db_path, outlets)
        send(db_path, outlets)
    assert result.returncode == 1
    row = state(db_path)
    assert row["state"] == "unhealthy"
    assert row["reason"] == "the last crawl failed: /feed/ answered HTTP 404"
    assert row["last_success"] is not None
    (alert,) = hook.bodies  # the first check (healthy) sent nothing
    assert alert["message"] == f"rhythm is unhealthy: {row['reason']}"
    print("\n" + result.stdout)

    # Datasette: the home page and the crawl_health query show the state, the reason and the
    # failed crawl's first error, with a link to its failures; the outbox is a table there.
    instance = datasette(db_path)
    failed_crawl = (
        sqlite_utils.Database(db_path).execute("select max(id) from crawls").fetchone()[0]
    )
    home = asyncio.run(instance.client.get("/")).text
    assert '<span class="status status-unhealthy">unhealthy</span>' in home
    assert "the last crawl failed: /feed/ answered HTTP 404" in home
    assert f"/monitor/failures?crawl_id={failed_crawl}" in home
    response = asyncio.run(instance.client.get("/monitor/crawl_health.json?_shape=array"))
    (health_row,) = response.json()
    assert health_row["health"] == "unhealthy" and health_row["health_reason"] == row["reason"]
    assert health_row["first_error"] == "/feed/ answered HTTP 404"
    assert health_row["last_crawl"] == failed_crawl
    page = asyncio.run(instance.client.get("/monitor/crawl_health")).text
    assert f'href="/monitor/failures?crawl_id={failed_crawl}"' in page
    outbox = asyncio.run(instance.client.get("/monitor/outbox.json?_shape=array")).json()
    assert [(r["kind"], r["destination"], r["status"]) for r in outbox] == [
        ("health", "ops", "sent")
    ]
    assert str(hook.port) not in json.dumps(outbox)


def test_no_network_is_said_as_such(tmp_path, db_path):
    outlets = registry(tmp_path, "http://rhythm-news.invalid")
    crawl(None, db_path, outlets, ok=False)
    result = health(db_path, outlets)
    assert result.returncode == 1
    reason = state(db_path)["reason"]
    assert reason.startswith("the last crawl failed: no network: rhythm-news.invalid")
    print("\n" + result.stdout)
    response = asyncio.run(datasette(db_path).client.get("/monitor/crawl_health.json?_shape=array"))
    (row,) = response.json()
    assert row["last_status"] == "failed"
    assert row["first_error"].startswith("no network: rhythm-news.invalid cannot be reached")


def test_an_outlet_never_crawled_is_unknown_not_unhealthy(tmp_path, db_path):
    outlets = registry(tmp_path, "http://127.0.0.1:9")
    result = health(db_path, outlets)
    assert result.returncode == 0
    assert "rhythm  unknown" in result.stdout and "never crawled" in result.stdout


def test_an_outlet_whose_robots_txt_starts_forbidding_us_is_unhealthy(tmp_path, db_path):
    site = RhythmSite()
    with ReplicaServer(site) as server:
        outlets = registry(tmp_path, server.origin)
        crawl(server, db_path, outlets)
        assert health(db_path, outlets).returncode == 0
        site.robots = "User-agent: *\nDisallow: /news/\n"
        site.times.append(datetime.now(dates.ALMATY).replace(microsecond=0) - timedelta(minutes=2))
        site.shown = len(site.times)
        crawl(server, db_path, outlets)
        result = health(db_path, outlets)
        assert result.returncode == 1
        assert state(db_path)["reason"] == "robots.txt forbids us: 1 request(s) not made"
        print("\n" + result.stdout)
        site.robots = "User-agent: *\nDisallow: /\n"
        crawl(server, db_path, outlets, ok=False)
        result = health(db_path, outlets)
    assert result.returncode == 1
    assert state(db_path)["reason"] == (
        "the last crawl failed: robots.txt forbids us: 1 request(s) not made"
    )


def test_pages_robots_txt_forbade_from_the_first_crawl_are_no_alarm(tmp_path, db_path):
    site = RhythmSite()
    site.robots = "User-agent: *\nDisallow: /news/\n"
    with ReplicaServer(site) as server:
        outlets = registry(tmp_path, server.origin)
        crawl(server, db_path, outlets)
        crawl(server, db_path, outlets)
        result = health(db_path, outlets)
    assert "robots.txt" not in result.stdout, result.stdout


def test_page_chrome_repeated_in_new_articles_is_caught(tmp_path, db_path):
    site = RhythmSite()
    with ReplicaServer(site) as server:
        outlets = registry(tmp_path, server.origin)
        crawl(server, db_path, outlets)
        site.chrome_from = len(site.times)
        now = datetime.now(dates.ALMATY).replace(microsecond=0)
        site.times += [now - timedelta(minutes=9 - k) for k in range(6)]
        site.shown = len(site.times)
        crawl(server, db_path, outlets)
        result = health(db_path, outlets)
    assert result.returncode == 1, result.stdout
    assert state(db_path)["reason"] == (
        f"page chrome in 6 of the last 10 articles: «{CHROME[:59]}…»"
    )
