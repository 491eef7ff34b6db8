"""Notifications end to end: a crawl of a replica outlet, the outbox, and real receivers on
loopback (an SMTP server for e-mail, an HTTP server for a JSON webhook) reached through Apprise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from monitor import db, notify, outbox
from monitor.replica.generic import GenericSite
from monitor.replica.server import ReplicaServer
from monitor.topics import Match
from tests.conftest import ROOT, SINCE, clean_env, run_monitor, scrapy_crawl
from tests.receivers import SmtpReceiver, WebhookReceiver


def topics_notifying(tmp_path: Path, *names: str) -> Path:
    """The project's topic file with `notify: [names]` added to the qantar topic."""
    text = (ROOT / "seeds" / "topics.yml").read_text("utf-8")
    marker = "\n  - slug: qantar\n"
    assert marker in text
    path = tmp_path / "topics.yml"
    path.write_text(text.replace(marker, marker + f"    notify: [{', '.join(names)}]\n", 1))
    return path


def write_config(db_path: Path, destinations: dict, **extra) -> None:
    config = {"destinations": destinations, **extra}
    (db_path.parent / "notify.yml").write_text(json.dumps(config), "utf-8")  # JSON is YAML


@pytest.fixture
def outlet():
    with ReplicaServer(GenericSite()) as server:
        yield server


@pytest.fixture
def receivers():
    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        yield smtp, hook


def crawl(server: ReplicaServer, db_path: Path, topics: Path) -> None:
    result = scrapy_crawl(
        "news",
        db_path,
        "outlet=tengrinews",
        f"base_url={server.origin}",
        f"since={SINCE}",
        settings={"MONITOR_TOPICS": str(topics)},
    )
    assert result.returncode == 0, result.stderr[-4000:]


def monitor(db_path: Path, topics: Path, *args: str, timeout: int = 60):
    return run_monitor("--db", str(db_path), "--topics", str(topics), *args, timeout=timeout)


def matched(db_path: Path) -> dict[str, dict]:
    """Matching articles by URL, from the database (the crawl's own judgement)."""
    rows = sqlite_utils.Database(db_path).execute(
        "SELECT a.url, a.title, a.outlet, a.lang, a.published, m.evidence FROM matches m "
        "JOIN articles a ON a.id = m.article_id WHERE m.topic = 'qantar'"
    )
    return {
        r[0]: {"title": r[1], "outlet": r[2], "lang": r[3], "published": r[4], "ev": r[5]}
        for r in rows
    }


def test_each_new_match_is_one_message_with_its_details_by_mail_and_webhook(
    outlet, receivers, db_path, tmp_path
):
    smtp, hook = receivers
    topics = topics_notifying(tmp_path, "newsroom")
    write_config(db_path, {"newsroom": {"urls": [hook.url, smtp.url()]}})
    crawl(outlet, db_path, topics)
    found = matched(db_path)
    labelled = {a.url for a in outlet.site.articles if a.topic == "qantar"}
    assert len(found) >= 5 and set(found) <= labelled

    result = monitor(db_path, topics, "notify", "send")
    assert result.returncode == 0, result.stderr
    assert f"{len(found)} message(s) sent carrying {len(found)} match(es)" in result.stdout
    assert len(hook.bodies) == len(found) and len(smtp.messages) == len(found)
    by_link = {}
    for body in hook.bodies:
        link = next(ln[6:] for ln in body["message"].splitlines() if ln.startswith("Link: "))
        by_link[link] = body
    assert set(by_link) == set(found)
    for url, article in found.items():
        message = by_link[url]["message"]
        assert by_link[url]["title"] == f"[qantar] {article['title']}"
        assert article["title"] in message
        assert "Outlet: tengrinews" in message
        assert f"Language: {article['lang']}" in message
        published = datetime.fromisoformat(article["published"])
        assert f"Published: {published:%Y-%m-%d %H:%M %z}" in message
        best = notify.strongest(json.loads(article["ev"]))
        assert f"«{best['snippet']}»" in message
        assert "Topic: Қаңтар — the January 2022 events (qantar)" in message
    mails = smtp.texts()
    assert all(m["To"] == "desk@example.org" for m in smtp.messages)
    for url in found:
        assert sum(url in text for text in mails) == 1
    print("\n--- e-mail for a match ---\n" + mails[0])
    print("--- webhook body for a match ---\n" + json.dumps(hook.bodies[0], ensure_ascii=False))

    # Nothing is sent twice: another crawl, a send, and a rematch add no message.
    crawl(outlet, db_path, topics)
    assert monitor(db_path, topics, "rematch").returncode == 0
    assert monitor(db_path, topics, "notify", "send").returncode == 0
    assert len(hook.bodies) == len(found)
    # The addresses and their password never reach the database (so never Datasette).
    data = b"".join(p.read_bytes() for p in db_path.parent.glob("monitor.db*"))
    assert b"secret-pass" not in data and str(hook.port).encode() not in data


def test_a_changed_article_is_new_only_when_it_starts_matching(
    outlet, receivers, db_path, tmp_path
):
    _, hook = receivers
    topics = topics_notifying(tmp_path, "newsroom")
    write_config(db_path, {"newsroom": hook.url})
    crawl(outlet, db_path, topics)
    before = matched(db_path)
    assert monitor(db_path, topics, "notify", "send").returncode == 0
    assert len(hook.bodies) == len(before)
    site = outlet.site
    already = next(a for a in site.articles if a.url in before and a.published >= SINCE)
    site.edit_article(
        already.id,
        add_paragraph="Редакция уточнила данные о числе пострадавших.",
        modified="2022-03-02T09:00:00+06:00",
    )
    other = next(
        a
        for a in site.articles
        if a.url not in before and a.published >= SINCE and a.expect == "stored"
    )
    site.edit_article(
        other.id,
        title="Январские события: суд вынес приговор участникам беспорядков в Алматы",
        add_paragraph=(
            "Суд рассмотрел дело о массовых беспорядках в январе 2022 года в Алматы. "
            "Участники январских событий получили сроки, сообщили в суде."
        ),
        modified="2022-03-02T10:00:00+06:00",
    )
    crawl(outlet, db_path, topics)
    after = matched(db_path)
    assert other.url in after and already.url in after
    assert monitor(db_path, topics, "notify", "send").returncode == 0
    new_bodies = hook.bodies[len(before) :]
    assert len(new_bodies) == 1
    assert other.url in new_bodies[0]["message"]
    assert "Январские события: суд вынес приговор" in new_bodies[0]["title"]


def test_a_burst_is_summarised_and_a_digest_groups_matches(outlet, receivers, db_path, tmp_path):
    smtp, hook = receivers
    topics = topics_notifying(tmp_path, "newsroom", "daily")
    write_config(
        db_path,
        {"newsroom": hook.url, "daily": {"urls": smtp.url(), "digest": "daily 08:00"}},
        burst=3,
    )
    crawl(outlet, db_path, topics)
    found = matched(db_path)
    assert len(found) > 3
    database = db.open_db(db_path)
    config = notify.load_config(db_path.parent / "notify.yml")
    # Before the next 08:00 (Almaty) the digest waits; the burst goes at once, as one summary.
    created = datetime.fromisoformat(
        database.execute("select min(created) from outbox").fetchone()[0]
    )
    local = created.astimezone(notify.dates.ALMATY)
    next_eight = local.replace(hour=8, minute=0, second=0, microsecond=0)
    if next_eight <= local:
        next_eight += timedelta(days=1)
    counts = outbox.send_pending(database, config, now=next_eight - timedelta(minutes=1))
    assert counts["sent"] == 1 and counts["waiting"] == len(found)
    (summary,) = hook.bodies
    assert summary["title"] == f"{len(found)} new matches at once (summarised)"
    assert f"Қаңтар — the January 2022 events (qantar): {len(found)}" in summary["message"]
    assert f"By outlet: tengrinews {len(found)}" in summary["message"]
    for url in list(found)[:3]:
        assert url in summary["message"]
    assert smtp.messages == []
    counts = outbox.send_pending(database, config, now=next_eight + timedelta(minutes=1))
    assert counts == {"sent": 1, "matches": len(found), "failed": 0, "waiting": 0}
    (digest,) = smtp.texts()
    assert f"Subject: Daily digest: {len(found)} new matches" in digest
    for url, article in found.items():
        assert url in digest and article["title"] in digest
    assert len(hook.bodies) == 1
    print("\n--- daily digest e-mail ---\n" + digest)
    print("--- burst summary webhook ---\n" + json.dumps(summary, ensure_ascii=False))


def queue_matches(db_path: Path, n: int, destination: str = "newsroom") -> None:
    """Store n matching articles and queue their messages as a crawl does."""
    database = db.open_db(db_path)
    evidence = [{"rule": "r", "weight": 2, "field": "title", "snippet": "январские события"}]
    match = Match(topic="qantar", score=5.0, evidence=evidence)
    topics = topics_notifying(db_path.parent, destination)
    with db.writing(database):
        for i in range(n):
            fields = {
                "url": f"https://example.kz/news/{i}",
                "outlet": "tengrinews",
                "title": f"Статья номер {i}",
                "lead": "",
                "text": "январские события",
                "lang": "ru",
                "published": "2022-01-05T10:00:00+06:00",
                "source": "crawl",
            }
            _, article_id = db.save_article(database, fields)
            assert outbox.enqueue_new_matches(database, article_id, [match], fields, str(topics))
            db.save_matches(database, article_id, [match])
    database.close()


def test_a_sender_killed_mid_delivery_resends_only_that_message(db_path, tmp_path):
    queue_matches(db_path, 6)
    topics = tmp_path / "topics.yml"
    with WebhookReceiver(stall_on=3, stall=60) as hook:
        write_config(db_path, {"newsroom": hook.url})
        sender = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--db", str(db_path), "--topics", str(topics),
             "notify", "send"],
            cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert hook.wait_for(3), "the sender never reached the third message"
        os.kill(sender.pid, signal.SIGKILL)  # the third message is received, not yet recorded
        sender.wait(timeout=10)
        database = sqlite_utils.Database(db_path)
        states = dict(database.execute("select status, count(*) from outbox group by status"))
        assert states == {"sent": 2, "sending": 1, "pending": 3}
        hook.stall_on = None
        result = monitor(db_path, topics, "notify", "send")
        assert result.returncode == 0, result.stderr
        assert "4 message(s) sent carrying 4 match(es)" in result.stdout
        titles = [b["title"] for b in hook.bodies]
    assert sorted(set(titles)) == sorted(f"[qantar] Статья номер {i}" for i in range(6))
    assert len(titles) == 7 and titles.count("[qantar] Статья номер 2") == 2
    states = dict(database.execute("select status, count(*) from outbox group by status"))
    assert states == {"sent": 6}


def test_failures_are_retried_with_backoff_and_shown_in_status(db_path, tmp_path):
    queue_matches(db_path, 1)
    topics = tmp_path / "topics.yml"
    with WebhookReceiver() as hook:
        hook.fail_with = 500
        write_config(db_path, {"newsroom": hook.url}, retry={"base": 60, "attempts": 3})
        config = notify.load_config(db_path.parent / "notify.yml")
        database = db.open_db(db_path)
        now = datetime.now(UTC)
        assert outbox.send_pending(database, config, now)["failed"] == 1
        row = next(database["outbox"].rows)
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert "error=500" in row["last_error"]
        assert datetime.fromisoformat(row["due"]) >= now + timedelta(seconds=59)
        # Not due yet: nothing is tried; after the backoff it is tried again (waits 120 s next).
        assert outbox.send_pending(database, config, now + timedelta(seconds=30))["failed"] == 0
        assert len(hook.bodies) == 1
        assert outbox.send_pending(database, config, now + timedelta(seconds=61))["failed"] == 1
        row = next(database["outbox"].rows)
        assert row["attempts"] == 2
        assert datetime.fromisoformat(row["due"]) >= now + timedelta(seconds=61 + 119)
        result = monitor(db_path, topics, "status")
        assert "notifications: 1 pending" in result.stdout
        assert "last failure: newsroom: Failed to send JSON POST notification" in result.stdout
        assert str(hook.port) not in result.stdout
        hook.fail_with = None
        counts = outbox.send_pending(database, config, now + timedelta(seconds=200))
        assert counts["sent"] == 1
        assert next(database["outbox"].rows)["status"] == "sent"
        assert len(hook.bodies) == 3


def test_an_unconfigured_destination_is_given_up_with_the_reason(db_path):
    queue_matches(db_path, 1, destination="nowhere")
    write_config(db_path, {}, retry={"base": 1, "attempts": 2})
    config = notify.load_config(db_path.parent / "notify.yml")
    database = db.open_db(db_path)
    now = datetime.now(UTC)
    outbox.send_pending(database, config, now)
    outbox.send_pending(database, config, now + timedelta(seconds=5))
    row = next(database["outbox"].rows)
    assert row["status"] == "failed" and row["attempts"] == 2
    assert "destination 'nowhere' is not configured" in row["last_error"]


def test_rate_limit_per_destination(db_path):
    queue_matches(db_path, 5)
    with WebhookReceiver() as hook:
        write_config(db_path, {"newsroom": hook.url}, max_per_minute=2, burst=10)
        config = notify.load_config(db_path.parent / "notify.yml")
        database = db.open_db(db_path)
        counts = outbox.send_pending(database, config)
        assert (counts["sent"], counts["waiting"]) == (2, 3)
        assert outbox.send_pending(database, config)["sent"] == 0  # the same minute
        assert len(hook.bodies) == 2


def test_notify_test_reports_in_one_line(db_path, tmp_path, receivers):
    smtp, hook = receivers
    topics = tmp_path / "topics.yml"
    write_config(db_path, {"newsroom": [hook.url, smtp.url()]})
    result = monitor(db_path, topics, "notify", "test", "newsroom")
    assert (result.returncode, result.stdout) == (0, "newsroom: delivered\n")
    assert hook.bodies[0]["title"] == "monitor: test message"
    assert smtp.messages[0]["Subject"] == "monitor: test message"
    result = monitor(db_path, topics, "notify", "test", hook.url)
    assert (result.returncode, result.stdout) == (0, "the URL: delivered\n")
    hook.fail_with = 503
    result = monitor(db_path, topics, "notify", "test", "newsroom")
    assert result.returncode == 1
    assert result.stdout.startswith("newsroom: NOT delivered: ") and "error=503" in result.stdout
    assert result.stdout.count("\n") == 1 and "secret-pass" not in result.stdout
    result = monitor(db_path, topics, "notify", "test", "nobody")
    assert result.returncode == 2
    assert result.stderr == "Error: unknown destination 'nobody' (destinations: newsroom)\n"
    (db_path.parent / "notify.yml").write_text("destinations:\n  newsroom: {digest: weekly}\n")
    result = monitor(db_path, topics, "notify", "test")
    assert result.returncode == 2 and result.stderr.startswith("Error: ")
    assert "destination 'newsroom'" in result.stderr and len(result.stderr.splitlines()) == 1


def test_destinations_from_the_environment(tmp_path):
    config = notify.load_config(
        tmp_path / "missing.yml",
        env={"MONITOR_NOTIFY_DESK": "json://127.0.0.1:9/a", "MONITOR_NOTIFY_DESK_DIGEST": "hourly"},
    )
    desk = config.destinations["desk"]
    assert desk.urls == ("json://127.0.0.1:9/a",) and desk.digest == "hourly"
    assert (
        notify.redact(
            "failed: json://u:tok3nsecretvalue99@h/x", ["json://u:tok3nsecretvalue99@h/x"]
        )
        == "failed: ***"
    )


def test_the_scheduler_sends_new_matches_after_a_crawl(outlet, db_path, tmp_path):
    topics = topics_notifying(tmp_path, "newsroom")
    with WebhookReceiver() as hook:
        write_config(db_path, {"newsroom": hook.url})
        cmd = [
            sys.executable, "-m", "monitor", "--db", str(db_path), "--topics", str(topics),
            "schedule", "tengrinews", "--since", SINCE,
            "--base-url", f"tengrinews={outlet.origin}",
            "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        try:
            assert hook.wait_for(1, timeout=90), "no notification within 90 s"
            expected = len(matched(db_path))
            assert hook.wait_for(expected + 1, timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out[-3000:]
    titles = [b["title"] for b in hook.bodies]
    matches = [t for t in titles if t.startswith("[qantar] ")]
    assert len(matches) == len(set(matches)) == expected >= 5
    # The replica stopped publishing in 2022: its health alert goes to every destination
    # (notify.yml has no `health` key), once.
    assert [t for t in titles if t not in matches] == ["[health] tengrinews is unhealthy"]
    states = sqlite_utils.Database(db_path)["outlet_health"].rows
    assert [(r["outlet"], r["state"]) for r in states] == [("tengrinews", "unhealthy")]
    assert "notifications: " in out


def test_a_backfill_of_5000_matches_is_one_summary(db_path):
    queue_matches(db_path, 5000)
    with WebhookReceiver() as hook:
        write_config(db_path, {"newsroom": hook.url})
        database = db.open_db(db_path)
        counts = outbox.send_pending(database, notify.load_config(db_path.parent / "notify.yml"))
        assert counts == {"sent": 1, "matches": 5000, "failed": 0, "waiting": 0}
        (summary,) = hook.bodies
    assert summary["title"] == "5,000 new matches at once (summarised)"
    assert "Қаңтар — the January 2022 events (qantar): 5,000" in summary["message"]
    assert summary["message"].count("https://example.kz/news/") == 10
    assert dict(database.execute("select status, count(*) from outbox group by 1")) == {
        "sent": 5000
    }


def test_an_hourly_digest_waits_for_the_hour(db_path):
    queue_matches(db_path, 3)
    with WebhookReceiver() as hook:
        write_config(db_path, {"newsroom": {"urls": hook.url, "digest": "hourly"}})
        config = notify.load_config(db_path.parent / "notify.yml")
        database = db.open_db(db_path)
        now = datetime.now(UTC)
        assert outbox.send_pending(database, config, now)["waiting"] == 3
        assert hook.bodies == []
        next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        counts = outbox.send_pending(database, config, next_hour + timedelta(seconds=1))
        assert counts == {"sent": 1, "matches": 3, "failed": 0, "waiting": 0}
        (digest,) = hook.bodies
    assert digest["title"] == "Hourly digest: 3 new matches"
    assert all(f"Статья номер {i}" in digest["message"] for i in range(3))
    print("\n--- hourly digest webhook ---\n" + json.dumps(digest, ensure_ascii=False))
