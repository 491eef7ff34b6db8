"""The outbox: notifications queued in the database and sent at least once, never twice.

A new match is queued (one row per destination) in the same transaction that stores it, so a
crash can lose neither the match nor its message. The sender (a scheduler job every 30 s, or
`monitor notify send`) claims a message's rows (status `sending`, with its process id), sends it
with Apprise, then records it `sent`. A sender killed between sending and recording leaves rows
`sending` under a dead process: the next pass sends that one message again, the only possible
duplicate. A failed send is retried with exponential backoff and given up (`failed`, with the
reason) after a number of attempts. Each destination gets at most `max_per_minute` messages a
minute; more than `burst` pending matches (a backfill) go as one summary; a digest destination
gets one message per hour or day with every match since the previous one.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor import db, notify
from monitor.processes import alive

logger = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=15)  # a claim this old is abandoned even if its process lives
MAX_BACKOFF = 6 * 3600.0


def enqueue_new_matches(
    database: Any,
    article_id: int,
    matches: list[Any],
    article: dict[str, Any],
    topics_path: str | None,
) -> int:
    """Queue a message for each topic the article matches now but did not match before.

    Call it before the new matches replace the old ones, inside the same transaction. A changed
    article that starts matching a topic is new; one that merely changes is not; a match that
    was ever queued is never queued again. Returns the number of rows queued.
    """
    routes, names = notify.topic_routes(topics_path)
    wanted = [m for m in matches if routes.get(m.topic)]
    if not wanted:
        return 0
    before = {
        row[0]
        for row in database.execute("SELECT topic FROM matches WHERE article_id = ?", [article_id])
    }
    stamp = db.now()
    queued = 0
    for m in wanted:
        if m.topic in before:
            continue
        payload = notify.match_payload(article, m.topic, names.get(m.topic, m.topic), m.evidence)
        title, body = notify.format_match(payload)
        for name in routes[m.topic]:
            cursor = database.execute(
                "INSERT OR IGNORE INTO outbox (kind, destination, topic, article_id, outlet, "
                "title, body, payload, created, status, attempts, due) "
                "VALUES ('match', ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
                [
                    name,
                    m.topic,
                    article_id,
                    article.get("outlet"),
                    title,
                    body,
                    notify.dumps(payload),
                    stamp,
                    stamp,
                ],
            )
            queued += cursor.rowcount
    return queued


def enqueue_health(
    database: Any, config: notify.Config, outlet: str, title: str, body: str, payload: dict
) -> int:
    """Queue a health change message for every health destination (caller's transaction)."""
    stamp = db.now()
    for name in config.health_destinations():
        database.execute(
            "INSERT INTO outbox (kind, destination, outlet, title, body, payload, created, "
            "status, attempts, due) VALUES ('health', ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
            [name, outlet, title, body, notify.dumps(payload), stamp, stamp],
        )
    return len(config.health_destinations())


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def recover(database: Any, now: datetime) -> int:
    """Put back the rows of messages whose sender died (or stalled) mid-delivery."""
    rows = database.execute(
        "SELECT DISTINCT claimed_by, min(claimed) FROM outbox WHERE status = 'sending' "
        "GROUP BY claimed_by"
    ).fetchall()
    recovered = 0
    for pid, claimed in rows:
        stale = claimed is None or claimed < _iso(now - STALE_CLAIM)
        if not stale and (pid == os.getpid() or alive(pid)):
            continue
        with db.writing(database):
            cursor = database.execute(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL, claimed = NULL, "
                "delivery = NULL WHERE status = 'sending' AND claimed_by IS ?",
                [pid],
            )
        recovered += cursor.rowcount
        logger.warning(
            "%d notification(s) were being sent by process %s, which stopped; sending again",
            cursor.rowcount,
            pid,
        )
    return recovered


def send_pending(
    database: Any, config: notify.Config, now: datetime | None = None
) -> dict[str, int]:
    """One pass of the sender: every message that is due, within the rate limits.

    Returns counts: sent (messages), matches (rows they carried), failed (attempts that
    failed), waiting (rows left for a later pass: rate limit, digest time or backoff).
    """
    now = now or datetime.now(UTC)
    recover(database, now)
    counts = {"sent": 0, "matches": 0, "failed": 0, "waiting": 0}
    names = [
        row[0]
        for row in database.execute(
            "SELECT DISTINCT destination FROM outbox WHERE status = 'pending' ORDER BY 1"
        )
    ]
    for name in names:
        rows = [
            _row(r)
            for r in database.execute(
                "SELECT id, kind, payload, title, body, created, attempts FROM outbox "
                "WHERE status = 'pending' AND destination = ? AND due <= ? ORDER BY id",
                [name, _iso(now)],
            )
        ]
        pending_total = database.execute(
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND destination = ?", [name]
        ).fetchone()[0]
        dest = config.destinations.get(name)
        budget = config.max_per_minute - _recent_deliveries(database, name, now)
        done = 0
        for label, group, title, body in _messages(dest, rows, config, now):
            if budget <= 0:
                break
            budget -= 1
            ok = _deliver(database, config, name, dest, label, group, title, body, now)
            counts["sent" if ok else "failed"] += 1
            if ok:
                counts["matches"] += sum(r["kind"] == "match" for r in group)
                done += len(group)
        counts["waiting"] += pending_total - done
    return counts


def _row(r: tuple) -> dict[str, Any]:
    keys = ("id", "kind", "payload", "title", "body", "created", "attempts")
    row = dict(zip(keys, r, strict=True))
    row["payload"] = json.loads(row["payload"] or "{}")
    return row


def _messages(
    dest: notify.Destination | None, rows: list[dict], config: notify.Config, now: datetime
) -> list[tuple[str, list[dict], str, str]]:
    """The messages that carry `rows` now: (label, rows, title, body)."""
    health = [r for r in rows if r["kind"] != "match"]
    matches = [r for r in rows if r["kind"] == "match"]
    out = [("single", [r], r["title"], r["body"]) for r in health]
    if dest is not None and dest.digest and matches:
        boundary = _iso(notify.digest_boundary(dest, now))
        # Rows that already failed once are retried as they were, not held for the next digest.
        due = [r for r in matches if r["created"] < boundary or r["attempts"]]
        if due:
            label = "Hourly digest" if dest.digest == "hourly" else "Daily digest"
            title, body = notify.format_digest([r["payload"] for r in due], label)
            out.append(("digest", due, title, body))
    elif len(matches) > config.burst:
        title, body = notify.format_summary([r["payload"] for r in matches])
        out.append(("summary", matches, title, body))
    else:
        out += [("single", [r], r["title"], r["body"]) for r in matches]
    return out


def _recent_deliveries(database: Any, name: str, now: datetime) -> int:
    row = database.execute(
        "SELECT count(DISTINCT delivery) FROM outbox WHERE destination = ? AND status = 'sent' "
        "AND sent > ?",
        [name, _iso(now - timedelta(seconds=60))],
    ).fetchone()
    return row[0]


def _deliver(
    database: Any,
    config: notify.Config,
    name: str,
    dest: notify.Destination | None,
    label: str,
    group: list[dict],
    title: str,
    body: str,
    now: datetime,
) -> bool:
    ids = [r["id"] for r in group]
    marks = ",".join("?" * len(ids))
    # Unique to this attempt, so that a sender never mistakes another thread's claim for its own.
    delivery = f"{label}:{ids[0]}:{secrets.token_hex(3)}"
    with db.writing(database):
        claimed = database.execute(
            "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed = ?, delivery = ? "
            f"WHERE status = 'pending' AND id IN ({marks})",
            [os.getpid(), _iso(now), delivery, *ids],
        ).rowcount
        if claimed != len(ids):  # another sender took some: leave the message to it
            database.execute(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL, claimed = NULL, "
                "delivery = NULL WHERE status = 'sending' AND delivery = ?",
                [delivery],
            )
            return False
    if dest is None:
        ok, reason = (
            False,
            (
                f"destination {name!r} is not configured (notify.yml or "
                f"{notify.ENV_PREFIX}{name.upper()})"
            ),
        )
    else:
        ok, reason = notify.deliver(dest.urls, title, body)
    stamp = _iso(datetime.now(UTC))
    with db.writing(database):
        if ok:
            database.execute(
                "UPDATE outbox SET status = 'sent', sent = ?, attempts = attempts + 1, "
                f"last_error = NULL, claimed_by = NULL WHERE id IN ({marks})",
                [stamp, *ids],
            )
        else:
            attempts = max(r["attempts"] for r in group) + 1
            wait = min(MAX_BACKOFF, config.retry_base * 2 ** (attempts - 1))
            final = attempts >= config.max_attempts
            database.execute(
                "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, due = ?, "
                f"claimed_by = NULL, claimed = NULL, delivery = NULL WHERE id IN ({marks})",
                [
                    "failed" if final else "pending",
                    attempts,
                    reason,
                    _iso(now + timedelta(seconds=wait)),
                    *ids,
                ],
            )
    if ok:
        logger.info("notification %s sent to %s (%d row(s))", delivery, name, len(ids))
    else:
        logger.warning("notification %s to %s failed: %s", delivery, name, reason)
    return ok


def summary(database: Any) -> dict[str, Any]:
    """Counts by status and the latest failure, for `monitor status`."""
    if "outbox" not in database.table_names():
        return {"counts": {}, "last_error": None}
    counts = dict(database.execute("SELECT status, count(*) FROM outbox GROUP BY status"))
    last = database.execute(
        "SELECT destination, last_error, attempts, status FROM outbox "
        "WHERE last_error IS NOT NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return {"counts": counts, "last_error": last}
    return True
