"""Scheduled crawls: one APScheduler job per outlet, each run a `scrapy crawl` subprocess.

Runs of one outlet never overlap (max_instances=1) and missed turns coalesce into one. On
start, an outlet whose last run is older than its interval is crawled at once; one crawled
recently waits for its turn, so restarting the scheduler never crawls twice for no reason.
SIGINT/SIGTERM stop it cleanly: no new runs, running crawls get a grace period, then are
stopped and recorded. The next run time of every outlet is kept in the `schedule` table for
`monitor status`.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import random
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor import dates, db
from monitor.outlets import Outlet
from monitor.processes import alive
from monitor.runner import CrawlRunner

logger = logging.getLogger("monitor.schedule")

MISFIRE_GRACE = 300  # seconds a late turn may still start


def trigger_for(outlet: Outlet) -> Any:
    """The outlet's cron expression, or its interval with jitter so outlets spread out."""
    if outlet.cron:
        return CronTrigger.from_crontab(outlet.cron, timezone=outlet.timezone)
    jitter = min(60.0, outlet.every * 0.1)
    return IntervalTrigger(seconds=outlet.every, jitter=jitter, timezone=outlet.timezone)


def last_run(database: Any, slug: str) -> datetime | None:
    """When the outlet's latest run started (any outcome)."""
    row = database.execute("SELECT max(started) FROM crawls WHERE outlet = ?", [slug]).fetchone()
    return dates.parse_datetime(row[0]) if row and row[0] else None


def first_run_time(outlet: Outlet, last: datetime | None, now: datetime) -> datetime:
    """Now if the outlet is due (never run, or last run older than its interval), else its turn."""
    if last is None:
        return now
    if outlet.cron:
        following = trigger_for(outlet).get_next_fire_time(None, last)
        return now if following is None or following <= now else following
    due = last + timedelta(seconds=outlet.every)
    return now if due <= now else due


def build(
    outlets: list[Outlet], runner: CrawlRunner, now: datetime | None = None
) -> BlockingScheduler:
    """A scheduler with one job per outlet, first runs set from the crawl history."""
    now = now or datetime.now(dates.ALMATY)
    scheduler = BlockingScheduler(
        timezone=dates.ALMATY,
        executors={"default": ThreadPoolExecutor(max(2, len(outlets)) + 2)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
    )
    database = db.open_db(runner.config.db)
    try:
        for index, outlet in enumerate(outlets):
            first = first_run_time(outlet, last_run(database, outlet.slug), now)
            if first == now:  # due outlets start a moment apart, not all at once
                first = now + timedelta(seconds=index * random.uniform(0.2, 1.0))
            scheduler.add_job(
                runner.run,
                trigger_for(outlet),
                args=[outlet],
                id=outlet.slug,
                name=f"crawl {outlet.slug}",
                next_run_time=first,
            )
            logger.info("%s: first run at %s", outlet.slug, dates.iso(first))
    finally:
        database.close()
    _add_rechecks(scheduler, outlets, runner, now)
    add_alert_jobs(scheduler, runner.config.db, outlets)
    return scheduler


def _add_rechecks(
    scheduler: BlockingScheduler, outlets: list[Outlet], runner: CrawlRunner, now: datetime
) -> None:
    """The job that runs the due rechecks (monitor/recheck.py) every MONITOR_RECHECK_EVERY s."""
    from monitor import recheck, settings

    every = settings.MONITOR_RECHECK_EVERY
    if every <= 0 or not outlets:
        return
    config = runner.config
    scheduler.add_job(
        recheck.scheduled,
        IntervalTrigger(seconds=every, jitter=min(60.0, every * 0.1), timezone=dates.ALMATY),
        args=[config.db, config.outlets, config.topics, [o.slug for o in outlets]],
        id="recheck",
        name="recheck due articles",
        next_run_time=now + timedelta(seconds=min(every, 300)),
    )


NOTIFY_EVERY = 30.0  # seconds between passes of the notification sender
HEALTH_EVERY = 300.0  # seconds between outlet health checks


def add_alert_jobs(scheduler: BlockingScheduler, path: str, outlets: list[Outlet]) -> None:
    """The notification sender (every 30 s) and the outlet health check (every 5 min)."""
    scheduler.add_job(
        send_notifications,
        IntervalTrigger(seconds=NOTIFY_EVERY),
        args=[path],
        id="notify",
        name="send notifications",
        next_run_time=datetime.now(dates.ALMATY) + timedelta(seconds=5),
    )
    scheduler.add_job(
        check_health,
        IntervalTrigger(seconds=HEALTH_EVERY),
        args=[path, outlets],
        id="health",
        name="check outlet health",
        next_run_time=datetime.now(dates.ALMATY) + timedelta(seconds=HEALTH_EVERY),
    )


ALERT_JOBS = ("notify", "health")


def wake_alert_jobs(scheduler: BlockingScheduler) -> None:
    """Run the sender and the health check now (after a crawl), then on their intervals."""
    for job_id in ALERT_JOBS:
        job = scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=datetime.now(dates.ALMATY))


def send_notifications(path: str) -> None:
    """One pass of the outbox sender (monitor/outbox.py); errors are logged, never raised."""
    from monitor import notify, outbox

    try:
        database = db.open_db(path)
        try:
            config = notify.load_config(notify.config_path(path))
            counts = outbox.send_pending(database, config)
        finally:
            database.close()
    except Exception as exc:  # a bad config or a locked database: try again next pass
        logger.error("notifications not sent: %s", exc)
        return
    if counts["sent"] or counts["failed"]:
        logger.info(
            "notifications: %d sent (%d matches), %d failed, %d waiting",
            counts["sent"],
            counts["matches"],
            counts["failed"],
            counts["waiting"],
        )


def check_health(path: str, outlets: list[Outlet]) -> None:
    """Evaluate every outlet's health (monitor/health.py); changes are queued as notifications."""
    from monitor import health, notify
    from monitor.errors import MonitorError

    try:
        config = notify.load_config(notify.config_path(path))
    except MonitorError as exc:
        logger.error("health changes not notified: %s", exc)
        config = None
    try:
        database = db.open_db(path)
        try:
            for state in health.check(database, outlets, config):
                if not state.changed or state.state == "unknown":
                    continue  # once per change, not once per check
                if state.state == "unhealthy":
                    logger.warning("health: %s is unhealthy: %s", state.outlet, state.reason)
                else:
                    logger.info("health: %s is %s: %s", state.outlet, state.state, state.reason)
        finally:
            database.close()
    except Exception as exc:
        logger.error("health check failed: %s", exc)
        return
    send_notifications(path)  # a change goes out now, not at the sender's next turn


def publish_next_runs(scheduler: BlockingScheduler, path: str) -> None:
    """Write every job's next run time to the `schedule` table for `monitor status`."""
    database = db.open_db(path)
    try:
        with db.writing(database):
            for job in scheduler.get_jobs():
                database["schedule"].upsert(
                    {
                        "outlet": job.id,
                        "next_run": dates.iso(job.next_run_time),
                        "scheduler_pid": os.getpid(),
                        "updated": db.now(),
                    },
                    pk="outlet",
                )
    finally:
        database.close()


def serve(scheduler: BlockingScheduler, runner: CrawlRunner, grace: float) -> None:
    """Run until SIGINT/SIGTERM, then let running crawls finish within `grace` seconds."""
    path = runner.config.db

    def on_event(event: Any) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            logger.warning("%s: previous run still going; this turn is skipped", event.job_id)
        elif event.code == EVENT_JOB_MISSED:
            logger.warning("%s: a turn was missed (the scheduler was busy or asleep)", event.job_id)
        elif event.code == EVENT_JOB_ERROR:
            logger.error("%s: the run could not be started: %s", event.job_id, event.exception)
        elif event.code == EVENT_JOB_EXECUTED and event.job_id not in ALERT_JOBS:
            wake_alert_jobs(scheduler)  # a crawl ended: its matches and health go out now
        try:
            publish_next_runs(scheduler, path)
        except Exception as exc:  # status display only; never stop the scheduler for it
            logger.warning("could not record the next run times: %s", exc)

    scheduler.add_listener(
        on_event,
        EVENT_JOB_SUBMITTED
        | EVENT_JOB_EXECUTED
        | EVENT_JOB_ERROR
        | EVENT_JOB_MISSED
        | EVENT_JOB_MAX_INSTANCES,
    )
    stopping = []

    def stop(signum: int, frame: Any) -> None:
        if stopping:
            return
        stopping.append(signum)
        logger.info(
            "%s: no new runs; waiting up to %gs for %d running crawl(s)",
            signal.Signals(signum).name,
            grace,
            runner.active(),
        )
        scheduler.shutdown(wait=False)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if scheduler.get_jobs():
            publish_next_runs(scheduler, path)
        try:
            scheduler.start()
        except JobLookupError:
            # A signal that arrives while APScheduler is updating a job it just ran shuts the
            # job stores down under it; the scheduler is stopping anyway.
            if not stopping:
                raise
    finally:
        runner.wait_all(grace)
        for s, handler in previous.items():
            signal.signal(s, handler)
        _forget_schedule(path)
        logger.info("scheduler stopped")


def _forget_schedule(path: str) -> None:
    database = db.open_db(path)
    try:
        database.execute("DELETE FROM schedule WHERE scheduler_pid = ?", [os.getpid()])
    finally:
        database.close()


def setup_logging(log_file: Path, level: str = "INFO") -> None:
    """Console gets the scheduler's summaries; a rotating file gets those and the crawl logs."""
    root = logging.getLogger("monitor")
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler()
    console.setLevel(level)
    console.setFormatter(fmt)
    console.addFilter(lambda record: not record.name.startswith("monitor.crawl"))
    log_file.parent.mkdir(parents=True, exist_ok=True)
    rotating = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    rotating.setFormatter(fmt)
    root.addHandler(console)
    root.addHandler(rotating)
    root.propagate = False
    logging.getLogger("apscheduler").addHandler(rotating)
    logging.getLogger("apscheduler").addHandler(console)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def status_rows(database: Any, outlets: list[Outlet], now: datetime | None = None) -> list[dict]:
    """Per outlet: the last run with its outcome and counts, and the next run time."""
    now = now or datetime.now(dates.ALMATY)
    scheduled = {}
    if "schedule" in database.table_names():
        for row in database["schedule"].rows:
            if alive(row["scheduler_pid"]):
                scheduled[row["outlet"]] = row["next_run"]
    rows = []
    for outlet in outlets:
        last = database.execute(
            "SELECT started, finished, status, requests, new, updated, failed FROM crawls "
            "WHERE outlet = ? ORDER BY id DESC LIMIT 1",
            [outlet.slug],
        ).fetchone()
        if outlet.slug in scheduled:
            next_run = scheduled[outlet.slug]
        else:
            started = dates.parse_datetime(last[0]) if last else None
            due = first_run_time(outlet, started, now)
            next_run = (
                "not scheduled (due now)" if due <= now else f"not scheduled (due {dates.iso(due)})"
            )
        rows.append(
            {
                "outlet": outlet.slug,
                "last_run": last[0] if last else None,
                "finished": last[1] if last else None,
                "status": last[2] if last else "never run",
                "counts": dict(zip(("requests", "new", "updated", "failed"), last[3:], strict=True))
                if last
                else {},
                "next_run": next_run,
            }
        )
    return rows
    return True
