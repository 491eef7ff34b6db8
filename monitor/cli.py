"""The `monitor` command: a thin shell over the library and `scrapy crawl`."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import click

from monitor import __version__, dates, db, outlets, runner, settings
from monitor.errors import MonitorError


class Context:
    """Paths every command shares; from flags, else environment, else monitor.settings."""

    def __init__(self, db: str, outlets_path: str, topics_path: str):
        self.db = db
        self.outlets = outlets_path
        self.topics = topics_path


def select(obj: Context, slugs: tuple[str, ...]) -> list[outlets.Outlet]:
    """The named outlets of the registry (all when none is named)."""
    registry = outlets.load(obj.outlets)
    unknown = [s for s in slugs if s not in registry]
    if unknown:
        fail(f"unknown outlet {unknown[0]!r}; outlets: {', '.join(registry)}")
    return [registry[s] for s in slugs] if slugs else list(registry.values())


def run_config(obj: Context, **kwargs) -> runner.RunConfig:
    """How this command starts crawl subprocesses."""
    return runner.RunConfig(db=obj.db, outlets=obj.outlets, topics=obj.topics, **kwargs)


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


class MonitorGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            fail(str(exc))


@click.group(cls=MonitorGroup)
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--db",
    envvar="MONITOR_DB",
    default=settings.MONITOR_DB,
    show_default="storage/monitor.db",
    help="SQLite database file.",
)
@click.option(
    "--outlets",
    "outlets_path",
    envvar="MONITOR_OUTLETS",
    default=settings.MONITOR_OUTLETS,
    show_default="seeds/outlets.yml",
    help="Outlet registry.",
)
@click.option(
    "--topics",
    "topics_path",
    envvar="MONITOR_TOPICS",
    default=settings.MONITOR_TOPICS,
    show_default="seeds/topics.yml",
    help="Topic definitions.",
)
@click.pass_context
def cli(ctx: click.Context, db: str, outlets_path: str, topics_path: str) -> None:
    """Monitor Kazakhstan's news outlets for the topics you follow.

    Crawls outlets (seeds/outlets.yml), matches articles to topics (seeds/topics.yml) and
    stores everything in SQLite for Datasette.
    """
    ctx.obj = Context(db, outlets_path, topics_path)


@cli.command(name="outlets")
@click.pass_obj
def outlets_command(obj: Context) -> None:
    """List the outlet registry.

    Example: monitor outlets
    """
    registry = outlets.load(obj.outlets)
    rows = [("SLUG", "NAME", "LANG", "SPIDER", "SCHEDULE", "FEEDS/SITEMAPS/LISTINGS", "BASE URL")]
    for o in registry.values():
        when = f"cron {o.cron}" if o.cron else f"every {o.every / 60:g} min"
        sources = f"{len(o.feeds)}/{len(o.sitemaps)}/{len(o.listings)}"
        rows.append((o.slug, o.name, o.lang or "-", o.spider, when, sources, o.base_url))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


@cli.command()
@click.argument("slugs", nargs=-1)
@click.option("--since", help="Reach back to this date (YYYY-MM-DD); default: a few days.")
@click.option("--base-url", help="Crawl a mirror at this origin instead (one outlet only).")
@click.option(
    "-s",
    "--set",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="A Scrapy setting for the crawl, e.g. -s DOWNLOAD_DELAY=2.",
)
@click.pass_obj
def crawl(
    obj: Context,
    slugs: tuple[str, ...],
    since: str | None,
    base_url: str | None,
    extra: tuple[str, ...],
) -> None:
    """Crawl outlets once (all of them when none is named), side by side in one process.

    Example: monitor crawl orda --since 2022-01-01
    """
    registry = select(obj, slugs)
    if base_url and len(slugs) != 1:
        fail("--base-url needs exactly one outlet")
    if since:
        dates.parse_since(since, 3)  # a bad date fails here, before any crawl starts
    config = run_config(obj, since=since, settings=extra)
    if base_url:
        config.base_urls[slugs[0]] = outlets.check_base_url(base_url)
    click.echo(f"crawling {', '.join(o.slug for o in registry)} ...", err=True)
    result = subprocess.run(runner.crawl_command(registry, config), env=runner.scrapy_env())
    if result.returncode != 0:
        click.echo(f"crawl failed (exit {result.returncode}); see the log above", err=True)
        sys.exit(2 if result.returncode == 2 else 1)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def seed(obj: Context, paths: tuple[Path, ...]) -> None:
    """Import the seed page captures (seeds/*.txt) as articles; safe to run again.

    Example: monitor seed
    """
    from monitor import db, seeding
    from monitor.matching import load_topics

    folder = Path(obj.outlets).parent
    files = list(paths) or seeding.seed_files(folder)
    if not files:
        fail(f"no seed files (*.txt) in {folder}")
    database = db.open_db(obj.db)
    results = seeding.import_seeds(database, files, load_topics(obj.topics))
    for r in results:
        if r.status == "failed":
            click.echo(f"{r.path}: not imported: {r.detail}", err=True)
        else:
            click.echo(f"{r.path.name}: {r.status} (article {r.article_id}: {r.detail})")
    failed = sum(r.status == "failed" for r in results)
    click.echo(f"{len(results) - failed} imported, {failed} failed", err=True)
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Datasette address.")
@click.option("--port", default=8001, show_default=True, help="Datasette port.")
@click.option(
    "--grace",
    default=60.0,
    show_default=True,
    help="On Ctrl-C, seconds running crawls get to finish.",
)
@click.pass_context
def run(ctx: click.Context, host: str, port: int, grace: float) -> None:
    """Seed, then crawl every outlet on its schedule with Datasette alongside (`make run`).

    Ctrl-C stops both. Example: monitor run --port 8001
    """
    obj: Context = ctx.obj
    seed_quietly(ctx)
    with datasette(obj.db, host, port):
        ctx.invoke(schedule, grace=grace)


def seed_quietly(ctx: click.Context) -> None:
    """Seed; a bad seed file is reported but does not stop what follows."""
    try:
        ctx.invoke(seed)
    except SystemExit as exc:
        if exc.code not in (0, None):
            click.echo("some seed files were not imported; going on", err=True)


@contextlib.contextmanager
def datasette(db_path: str, host: str, port: int):
    """`monitor serve` in a subprocess for the duration of the block."""
    cmd = [
        sys.executable,
        "-m",
        "monitor",
        "--db",
        db_path,
        "serve",
        "--host",
        host,
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, env=runner.scrapy_env(), start_new_session=True)
    click.echo(f"Datasette: http://{host}:{port}/  (Ctrl-C stops everything)", err=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@cli.command()
@click.argument("slugs", nargs=-1)
@click.option("--since", help="Reach back to this date (YYYY-MM-DD) on every run.")
@click.option("--timeout", default=1800.0, show_default=True, help="Wall-clock limit of a run, s.")
@click.option(
    "--grace",
    default=60.0,
    show_default=True,
    help="On Ctrl-C/SIGTERM, seconds running crawls get to finish before they are stopped.",
)
@click.option(
    "--base-url",
    "base_urls",
    multiple=True,
    metavar="SLUG=ORIGIN",
    help="Crawl a mirror for one outlet, e.g. --base-url orda=http://127.0.0.1:8000.",
)
@click.option(
    "-s",
    "--set",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="A Scrapy setting for every crawl, e.g. -s DOWNLOAD_DELAY=2.",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    help="Rotating log file [default: monitor.log beside the database].",
)
@click.pass_obj
def schedule(
    obj: Context,
    slugs: tuple[str, ...],
    since: str | None,
    timeout: float,
    grace: float,
    base_urls: tuple[str, ...],
    extra: tuple[str, ...],
    log_file: Path | None,
) -> None:
    """Crawl every outlet on its schedule until Ctrl-C (one subprocess per run).

    Example: monitor schedule
    """
    from monitor import schedule as scheduling

    chosen = select(obj, slugs)
    if since:
        dates.parse_since(since, 3)
    config = run_config(obj, since=since, settings=extra, timeout=timeout)
    for pair in base_urls:
        slug, _, origin = pair.partition("=")
        if slug not in {o.slug for o in chosen}:
            fail(f"--base-url {pair!r}: unknown or unscheduled outlet {slug!r}")
        config.base_urls[slug] = outlets.check_base_url(origin)
    db.open_db(obj.db).close()  # an unusable database fails now, not at the first run
    scheduling.setup_logging(log_file or Path(obj.db).parent / "monitor.log")
    crawl_runner = runner.CrawlRunner(config)
    scheduling.serve(scheduling.build(chosen, crawl_runner), crawl_runner, grace)


@cli.command()
@click.pass_obj
def status(obj: Context) -> None:
    """Per outlet: the last run, its outcome and counts, and the next run time.

    Example: monitor status
    """
    from monitor import schedule as scheduling

    database = db.open_db(obj.db)
    rows = [("OUTLET", "LAST RUN", "STATUS", "REQ", "NEW", "UPD", "FAIL", "NEXT RUN")]
    for r in scheduling.status_rows(database, list(outlets.load(obj.outlets).values())):
        c = r["counts"]
        rows.append(
            (
                r["outlet"],
                r["last_run"] or "-",
                r["status"],
                *(str(c.get(k, "-")) for k in ("requests", "new", "updated", "failed")),
                r["next_run"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.pass_obj
def serve(obj: Context, host: str, port: int) -> None:
    """Browse and search the database in Datasette (read-only; crawls can keep writing).

    Example: monitor serve --port 8001
    """
    from monitor.serve import serve as run_datasette

    sys.exit(run_datasette(obj.db, host=host, port=port))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Datasette address.")
@click.option("--port", default=8001, show_default=True, help="Datasette port.")
@click.option(
    "--every",
    default="1m",
    show_default=True,
    help="How often each replica outlet is crawled (90s, 2m, ...).",
)
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, every: str) -> None:
    """Show the whole system offline: replica sites on loopback, seeding, scheduler, Datasette.

    Uses its own database (storage/demo.db unless --db is given). Ctrl-C stops everything.

    Example: monitor demo --port 8001
    """
    import tempfile

    from monitor import demo as demo_mod
    from monitor import seeding

    obj: Context = ctx.obj
    if outlets.parse_every(every) is None:
        fail(f"--every {every!r}: use a duration such as 90s, 2m or 1h")
    if obj.db == settings.MONITOR_DB:
        obj.db = str(Path(settings.MONITOR_DB).with_name("demo.db"))
    servers = demo_mod.start_replicas()
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
            registry = Path(tmp) / "outlets.yml"
            origins = {slug: server.origin for slug, server in servers.items()}
            demo_mod.write_registry(Path(obj.outlets), registry, origins, every)
            seeds_folder = Path(obj.outlets).parent
            obj.outlets = str(registry)
            for slug, origin in origins.items():
                click.echo(f"replica of {slug}: {origin}", err=True)
            ctx.invoke(seed, paths=tuple(seeding.seed_files(seeds_folder)))
            with datasette(obj.db, host, port):
                ctx.invoke(schedule, since=demo_mod.SINCE, extra=demo_mod.FAST, grace=5.0)
    finally:
        for server in servers.values():
            server.stop()


@cli.command()
@click.pass_obj
def topics(obj: Context) -> None:
    """Show each topic with its rules and match counts.

    Example: monitor topics
    """
    from monitor import matching
    from monitor.topics import TopicError, load_topics

    try:
        loaded = load_topics(obj.topics)
    except TopicError as exc:
        fail(str(exc))
    counts = matching.topic_counts(db.open_db(obj.db))
    for topic in loaded:
        total, recent = counts.get(topic.slug, (0, 0))
        terms = sum(len(t) for t in topic.concepts.values())
        click.echo(f"{topic.slug}: {topic.name}")
        click.echo(
            f"  {total} matches ({recent} in the last 7 days); threshold {topic.threshold:g}; "
            f"{len(topic.concepts)} concepts, {terms} terms, {len(topic.rules)} rules"
        )
        if topic.seeds:
            click.echo(f"  seeds: {', '.join(topic.seeds)}")
        for rule in topic.rules:
            sign = "discards" if rule.discard else f"{rule.weight:+g}"
            click.echo(f"    {sign:>8}  {rule.kind:<8} {rule.name}")


@cli.command()
@click.pass_obj
def rematch(obj: Context) -> None:
    """Re-score every stored article against the topic file, without recrawling.

    Run it after editing seeds/topics.yml. Example: monitor rematch
    """
    from monitor import matching
    from monitor.topics import TopicError, load_topics

    try:
        loaded = load_topics(obj.topics)
    except TopicError as exc:
        fail(str(exc))
    database = db.open_db(obj.db)
    shown = [0.0]

    def progress(done: int, total: int, seconds: float) -> None:
        if seconds - shown[0] >= 2 or done == total:
            shown[0] = seconds
            click.echo(
                f"  {done:,}/{total:,} articles, {done / max(seconds, 1e-9):,.0f}/s", err=True
            )

    result = matching.rematch(database, loaded, progress)
    click.echo(
        f"rematched {result['articles']:,} articles in {result['seconds']:.1f} s "
        f"({result['per_second']:,.0f}/s)"
    )
    for slug in sorted(set(result["before"]) | set(result["after"])):
        old, new = result["before"].get(slug, 0), result["after"].get(slug, 0)
        click.echo(f"  {slug}: {new} matches (was {old})")


@cli.command()
@click.argument("slugs", nargs=-1)
@click.option("--since", help="Only pages archived on or after this date (YYYY-MM-DD).")
@click.option("--restart", is_flag=True, help="Start over instead of resuming an interrupted run.")
@click.option(
    "--workers",
    default=settings.MONITOR_EXTRACT_WORKERS,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Extraction worker processes.",
)
@click.pass_obj
def reextract(
    obj: Context, slugs: tuple[str, ...], since: str | None, restart: bool, workers: int
) -> None:
    """Run the current extraction over the archived pages of stored articles, without recrawling.

    An article whose text really changed gets a version; an interrupted run resumes.
    Example: monitor reextract orda --since 2024-01-01
    """
    from monitor import reextraction

    registry = {o.slug: o for o in select(obj, slugs)}
    since_iso = None
    if since:  # captures are timed in UTC
        since_iso = dates.parse_since(since, 3).astimezone(UTC).replace(microsecond=0).isoformat()
    shown = [0.0]

    def progress(done: int, total: int, seconds: float) -> None:
        if seconds - shown[0] >= 2 or done == total:
            shown[0] = seconds
            click.echo(f"  {done:,}/{total:,} pages, {done / max(seconds, 1e-9):,.0f}/s", err=True)

    result = reextraction.reextract(
        obj.db,
        registry if slugs else outlets.load(obj.outlets),
        list(slugs),
        since=since_iso,
        topics_path=obj.topics,
        processes=workers,
        restart=restart,
        progress=progress,
    )
    resumed = f", resumed after article {result.resumed_from}" if result.resumed_from else ""
    click.echo(
        f"re-extracted {result.pages:,} pages in {result.seconds:.1f} s "
        f"({result.per_second:,.0f}/s{resumed}): {result.updated:,} changed, "
        f"{result.unchanged:,} unchanged, {result.failed:,} failed, "
        f"{result.missing:,} without an archived page"
    )
    for error in result.errors[:10]:
        click.echo(f"  {error}", err=True)


@cli.command()
@click.argument("slugs", nargs=-1)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Every stored article of these outlets, now, ignoring the schedule.",
)
@click.option(
    "--budget",
    default=settings.MONITOR_RECHECK_BUDGET,
    show_default=True,
    type=click.IntRange(1),
    help="At most this many requests per outlet.",
)
@click.option(
    "--delay",
    default=settings.DOWNLOAD_DELAY,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between two requests to a site.",
)
@click.pass_obj
def recheck(obj: Context, slugs: tuple[str, ...], every: bool, budget: int, delay: float) -> None:
    """Fetch stored articles again to catch silent edits and removals (the due ones by default).

    Example: monitor recheck orda --all
    """
    from monitor import recheck as rechecks

    registry = {o.slug: o for o in select(obj, slugs)}
    if settings.MONITOR_RECHECK_SCOPE not in ("matched", "all"):
        fail(
            f"MONITOR_RECHECK_SCOPE must be matched or all, not {settings.MONITOR_RECHECK_SCOPE!r}"
        )
    politeness = rechecks.Politeness(
        user_agent=settings.USER_AGENT,
        delay=delay,
        timeout=settings.DOWNLOAD_TIMEOUT,
        max_bytes=settings.DOWNLOAD_MAXSIZE,
        budget=budget,
    )
    report = rechecks.run(
        obj.db,
        registry,
        list(registry),
        politeness,
        every=every,
        scope=settings.MONITOR_RECHECK_SCOPE,
        topics_path=obj.topics,
        say=click.echo,
    )
    click.echo(
        f"rechecked {report.checked} articles: {report.alive} still there "
        f"({len(report.edited)} edited), {len(report.suspected)} gone once (to confirm), "
        f"{len(report.removed)} removed, {len(report.transient)} transient failures"
        + (f", {report.over_budget} left for the next run (budget)" if report.over_budget else "")
    )


@cli.command(name="archive")
@click.option(
    "--reindex",
    is_flag=True,
    help="First add the captures rows missing for records on disk (after a killed crawl).",
)
@click.pass_obj
def archive_command(obj: Context, reindex: bool) -> None:
    """Show the web archive's size per outlet and month (WARC files in warc/ beside the database).

    Example: monitor archive
    """
    from monitor import archive

    database = db.open_db(obj.db)
    root = archive.archive_dir(obj.db)
    if reindex:
        click.echo(f"reindexed: {archive.reindex(database, root)} record(s) had no captures row")
    found = archive.usage(database, root)
    click.echo(f"archive: {root}")
    if not found["months"] and not found["disk"]:
        click.echo("  empty: no fetch archived yet")
        return
    click.echo(
        f"  {'outlet':<14} {'month':<8} {'captures':>9} {'articles':>9} {'MB':>9} {'KB/art.':>8}"
    )
    for row in found["months"]:
        per = row["bytes"] / row["articles"] / 1024 if row["articles"] else 0
        click.echo(
            f"  {row['outlet']:<14} {row['month']:<8} {row['captures']:>9,} {row['articles']:>9,} "
            f"{row['bytes'] / 2**20:>9.1f} {per:>8.1f}"
        )
    for outlet, entry in sorted(found["disk"].items()):
        click.echo(
            f"  {outlet:<14} on disk: {entry['files']} file(s), {entry['bytes'] / 2**20:.1f} MB"
        )
    total = sum(entry["bytes"] for entry in found["disk"].values())
    click.echo(f"  total on disk: {total / 2**20:.1f} MB")
