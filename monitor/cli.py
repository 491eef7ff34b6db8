"""The `monitor` command: a thin shell over the library and `scrapy crawl`."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import click

from monitor import __version__, dates, db, locks, outlets, processes, runner, settings
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


def check_topic_file(obj: Context) -> None:
    """A configured topic file must exist and load (MonitorError otherwise), before any work."""
    from monitor.topics import load_topics

    if obj.topics:
        load_topics(obj.topics)


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def warn_if_index_stale(db_path: str) -> None:
    """One warning line on stderr when the search index needs `monitor reindex`."""
    from monitor import search_index

    warning = search_index.stale_warning(db.open_db(db_path))
    if warning:
        click.echo(warning, err=True)


GLOBAL_OPTIONS = ("--db", "--outlets", "--topics")


def hoist_global_options(args: list[str]) -> list[str]:
    """Move the global options (`--db X`, `--db=X`, ...) given after the subcommand to the front,
    so `monitor status --db X` works as `monitor --db X status` does. Arguments after `--` stay."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            if "=" in arg:
                front.append(arg)
            elif i + 1 < len(args):
                front.extend(args[i : i + 2])
                i += 1
            else:
                raise click.BadOptionUsage(name, f"Option '{name}' requires an argument.")
        else:
            rest.append(arg)
        i += 1
    return front + rest


class MonitorGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            fail(str(exc))
        except sqlite3.OperationalError as exc:
            # locked by another process past MONITOR_BUSY_TIMEOUT, or the disk is full
            fail(db.describe_error(exc, getattr(ctx.obj, "db", "?")))


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
    check_topic_file(obj)
    if since:
        dates.parse_since(since, 3)  # a bad date fails here, before any crawl starts
    config = run_config(obj, since=since, settings=extra)
    if base_url:
        config.base_urls[slugs[0]] = outlets.check_base_url(base_url)
    warn_if_index_stale(obj.db)
    click.echo(f"crawling {', '.join(o.slug for o in registry)} ...", err=True)
    result = subprocess.run(runner.crawl_command(registry, config), env=runner.scrapy_env())
    if result.returncode == locks.BUSY_EXIT:  # its one-line message says who crawls it
        sys.exit(locks.BUSY_EXIT)
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
    from monitor.topics import load_topics

    folder = Path(obj.outlets).parent
    files = list(paths) or seeding.seed_files(folder)
    if not files:
        fail(f"no seed files (*.txt) in {folder}")
    loaded = load_topics(obj.topics) if obj.topics else []  # a missing file is an error
    database = db.open_db(obj.db)
    results = seeding.import_seeds(database, files, loaded)
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
    from monitor.serve import check_port

    obj: Context = ctx.obj
    check_port(host, port)
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
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1.5)  # a Datasette that cannot start says why and exits at once
    if proc.returncode is not None:
        fail(f"Datasette did not start on {host}:{port} (exit status {proc.returncode})")
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
    help="Rotating log file [default: the database's name with .log, e.g. storage/demo.log].",
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
    check_topic_file(obj)  # a missing topic file fails now, not at every run
    if since:
        dates.parse_since(since, 3)
    config = run_config(obj, since=since, settings=extra, timeout=timeout)
    for pair in base_urls:
        slug, _, origin = pair.partition("=")
        if slug not in {o.slug for o in chosen}:
            fail(f"--base-url {pair!r}: unknown or unscheduled outlet {slug!r}")
        config.base_urls[slug] = outlets.check_base_url(origin)
    database = db.open_db(obj.db)  # an unusable database fails now, not at the first run
    processes.reap(database)  # runs killed before they could record their end
    database.close()
    scheduling.setup_logging(log_file or Path(obj.db).with_suffix(".log"))
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
    processes.reap(database)  # a `running` crawl whose process is gone is `killed`
    zone = dates.display_zone()
    registry = list(outlets.load(obj.outlets).values())
    # A database a scheduler ran on (the demo's, say) shows the outlets it crawls, not the
    # whole registry; the others are named below the table.
    used = {
        r[0]
        for r in database.execute("select outlet from schedule union select outlet from crawls")
    }
    scheduled_here = database.execute("select count(*) from schedule").fetchone()[0] > 0
    shown = [o for o in registry if o.slug in used] if scheduled_here else registry
    rows = [("OUTLET", "LAST RUN", "STATUS", "REQ", "NEW", "UPD", "FAIL", "NEXT RUN")]
    for r in scheduling.status_rows(database, shown):
        c = r["counts"]
        rows.append(
            (
                r["outlet"],
                in_zone(r["last_run"], zone) or "-",
                r["status"],
                *(
                    "-" if c.get(k) is None else str(c[k])
                    for k in ("requests", "new", "updated", "failed")
                ),
                in_zone(r["next_run"], zone),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    click.echo(f"times in {zone.key}")
    others = [o.slug for o in registry if o not in shown]
    if others:
        click.echo(f"not crawled with this database: {', '.join(others)}")
    warn_if_index_stale(obj.db)
    status_notifications(database)


def status_notifications(database) -> None:
    """The outbox line of `monitor status`: messages by status and the latest failure."""
    from monitor import outbox

    info = outbox.summary(database)
    if not info["counts"]:
        return
    counts = ", ".join(f"{n} {status}" for status, n in sorted(info["counts"].items()))
    click.echo(f"notifications: {counts}")
    if info["last_error"]:
        dest, error, attempts, state = info["last_error"]
        click.echo(f"  last failure: {dest}: {error} (attempt {attempts}, now {state})")


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)?")


def in_zone(text: str | None, zone) -> str | None:
    """`text` with every ISO 8601 time in it shown in `zone`, to the second, with its offset."""
    if not text:
        return text

    def convert(found: re.Match) -> str:
        moment = dates.shown(found.group(0), zone)
        return moment.replace(microsecond=0).isoformat() if moment else found.group(0)

    return _ISO_TIME.sub(convert, text)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.option("--access-log", is_flag=True, help="Log every request to the console.")
@click.pass_obj
def serve(obj: Context, host: str, port: int, access_log: bool) -> None:
    """Browse and search the database in Datasette (read-only; crawls can keep writing).

    Example: monitor serve --port 8001
    """
    from monitor.serve import check_port
    from monitor.serve import serve as run_datasette

    check_port(host, port)  # before anything is created or said
    warn_if_index_stale(obj.db)
    sys.exit(run_datasette(obj.db, host=host, port=port, access_log=access_log))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Datasette address.")
@click.option("--port", default=8001, show_default=True, help="Datasette port.")
@click.option(
    "--every",
    default="1m",
    show_default=True,
    help="How often each replica outlet is crawled (90s, 2m, ...).",
)
@click.option(
    "--news-every",
    default="40s",
    show_default=True,
    help="How often one of the replica sites publishes, edits or removes an article.",
)
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, every: str, news_every: str) -> None:
    """Show the whole system offline: replica sites on loopback, seeding, scheduler, Datasette.

    The replica sites live: every --news-every one of them publishes a new article, edits one
    or takes one down, so new matches and versions keep arriving. Uses its own database
    (storage/demo.db unless --db is given). Ctrl-C stops everything.

    Example: monitor demo --port 8001
    """
    import tempfile

    from monitor import demo as demo_mod
    from monitor import seeding
    from monitor.serve import check_port

    obj: Context = ctx.obj
    for name, value in (("--every", every), ("--news-every", news_every)):
        if outlets.parse_every(value) is None:
            fail(f"{name} {value!r}: use a duration such as 90s, 2m or 1h")
    check_port(host, port)
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
            # Replica articles are not news: notifications go to the demo's own inbox on
            # loopback, which prints them; none leaves the machine.
            for key in [k for k in os.environ if k.startswith("MONITOR_NOTIFY_")]:
                del os.environ[key]
            inbox = demo_mod.Inbox(lambda m: click.echo(m, err=True))
            topics = Path(tmp) / "topics.yml"
            os.environ["MONITOR_NOTIFY_CONFIG"] = str(Path(tmp) / "notify.yml")
            demo_mod.write_notifications(
                Path(obj.topics), topics, Path(os.environ["MONITOR_NOTIFY_CONFIG"]), inbox
            )
            obj.topics = str(topics)
            ctx.invoke(seed, paths=tuple(seeding.seed_files(seeds_folder)))
            news = demo_mod.newsroom(
                servers, outlets.parse_every(news_every), lambda m: click.echo(m, err=True)
            )
            try:
                with datasette(obj.db, host, port):
                    ctx.invoke(schedule, since=demo_mod.SINCE, extra=demo_mod.FAST, grace=5.0)
            finally:
                news.stop()
                inbox.stop()
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
    from monitor.topics import load_topics

    loaded = load_topics(obj.topics)
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
        if topic.period:
            click.echo(f"  period: {topic.period[0]} to {topic.period[1]}")
        for rule in topic.rules:
            sign = "discards" if rule.discard else f"{rule.weight:+g}"
            when = f"  (when {rule.when})" if rule.when else ""
            click.echo(f"    {sign:>8}  {rule.kind:<8} {rule.name}{when}")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--show", default=20, show_default=True, help="Titles listed per topic and side.")
@click.pass_obj
def rematch(obj: Context, dry_run: bool, show: int) -> None:
    """Re-score every stored article against the topic file, without recrawling.

    Run it after editing seeds/topics.yml; --dry-run lists the articles each topic would gain
    and lose first. A match that still holds keeps its `matched` time.
    Example: monitor rematch --dry-run
    """
    from monitor import matching
    from monitor.topics import load_topics

    loaded = load_topics(obj.topics)
    database = db.open_db(obj.db)
    shown = [0.0]

    def progress(done: int, total: int, seconds: float) -> None:
        if seconds - shown[0] >= 2 or done == total:
            shown[0] = seconds
            click.echo(
                f"  {done:,}/{total:,} articles, {done / max(seconds, 1e-9):,.0f}/s", err=True
            )

    result = matching.rematch(database, loaded, progress, dry_run=dry_run)
    verb = "would rematch" if dry_run else "rematched"
    click.echo(
        f"{verb} {result['articles']:,} articles in {result['seconds']:.1f} s "
        f"({result['per_second']:,.0f}/s)" + ("; nothing written" if dry_run else "")
    )
    for slug in sorted(set(result["before"]) | set(result["after"]) | set(result["changes"])):
        old, new = result["before"].get(slug, 0), result["after"].get(slug, 0)
        click.echo(f"  {slug}: {'would have ' if dry_run else ''}{new} matches (was {old})")
        change = result["changes"].get(slug)
        if not dry_run or change is None:
            continue
        for sign, found in (("+", change.gained), ("-", change.lost)):
            for article_id, title in found[:show]:
                click.echo(f"    {sign} {article_id}  {title}")
            if len(found) > show:
                click.echo(f"    {sign} ... and {len(found) - show} more")


@cli.command(name="match")
@click.argument("source")
@click.option("--published", help="The article's date (YYYY-MM-DD) when the source has none.")
@click.option("--lang", type=click.Choice(["ru", "kk"]), help="Its language (default: detected).")
@click.pass_obj
def match_command(obj: Context, source: str, published: str | None, lang: str | None) -> None:
    """Score one text against the topics and show every rule that fired, with its evidence.

    SOURCE is a file (a seed capture, or a title line and the text), a stored article's URL,
    or - for stdin. Example: monitor match seeds/000_0f7ca8e65e14babd.txt
    """
    from monitor.documents import read_document
    from monitor.topics import load_topics, score_article

    loaded = load_topics(obj.topics)
    fields = read_document(source, obj.db)
    if published:
        from monitor.topics import publication_day

        if publication_day(published) is None:
            fail(f"--published {published!r}: use a date such as 2022-01-05")
        fields["published"] = published
    if lang:
        fields["lang"] = lang
    click.echo(
        f"{fields.get('title') or '(no title)'}\n"
        f"  language {fields.get('lang') or '?'}, published {fields.get('published') or 'unknown'}"
    )
    for result in score_article(
        loaded,
        title=fields.get("title") or "",
        lead=fields.get("lead") or "",
        text=fields.get("text") or "",
        published=fields.get("published"),
        lang=fields.get("lang"),
    ):
        verdict = "MATCH" if result.matched else "no match"
        click.echo(
            f"{result.topic}: {verdict}, score {result.score:g} (threshold {result.threshold:g})"
        )
        for e in result.evidence:
            weight = "discard" if e["weight"] == 0 else f"{e['weight']:+g}"
            click.echo(f"  {weight:>8}  {e['rule']} [{e['field']}] {e['term']}")
            click.echo(f"            {e['snippet']}")
        if not result.evidence:
            click.echo("  no rule fired")


@cli.group()
def topic() -> None:
    """Tools for writing topics. Example: monitor topic draft seeds/*.txt"""


@topic.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--slug", default="draft", show_default=True, help="The draft topic's slug.")
@click.pass_obj
def draft(obj: Context, sources: tuple[str, ...], slug: str) -> None:
    """Propose a topic skeleton from example documents (files or stored articles' URLs).

    Prints the terms most characteristic of the examples against the stored articles, grouped
    into concepts, as YAML to edit. Example: monitor topic draft seeds/*.txt > draft.yml
    """
    from monitor.documents import read_document
    from monitor.topics.draft import draft_topic

    examples = [read_document(source, obj.db) for source in sources]
    database = db.open_db(obj.db)
    corpus = (
        {"title": r[0], "lead": r[1], "text": r[2], "lang": r[3]}
        for r in database.execute("SELECT title, lead, text, lang FROM articles")
    )
    names = [Path(s).name if not s.startswith("http") else s for s in sources]
    click.echo(draft_topic(examples, corpus, names, slug=slug), nl=False)


@cli.command()
@click.option(
    "--batch",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Articles per transaction; progress is saved after each.",
)
@click.option("--force", is_flag=True, help="Rebuild even if the index is up to date.")
@click.pass_obj
def reindex(obj: Context, batch: int, force: bool) -> None:
    """Rebuild the stemmed search index with the current word analyser.

    Needed when the analyser changed (an upgrade, an edit of seeds/analyser.yml): `monitor
    status` says so. Stopped or crashed half-way, it resumes where it stopped; searches use the
    old index until the new one is complete. Example: monitor reindex
    """
    import time

    from monitor import search_index
    from monitor.text import analyser_version

    database = db.open_db(obj.db)
    before = search_index.state(database)
    terminal = sys.stderr.isatty()
    shown = [0.0]

    def progress(done: int, total: int, seconds: float) -> None:
        rate = f"{done / max(seconds, 1e-9):,.0f}/s"
        if terminal:
            if time.monotonic() - shown[0] >= 0.2 or done == total:
                shown[0] = time.monotonic()
                percent = 100 * done / max(total, 1)
                click.echo(f"\r  {done:,}/{total:,} articles ({percent:.0f}%), {rate}  ", nl=False,
                           err=True)  # fmt: skip
        else:
            click.echo(f"  reindexed {done:,}/{total:,} articles, {rate}", err=True)

    if before.building == analyser_version():
        click.echo(f"resuming the rebuild after article {before.built_upto:,}", err=True)
    result = search_index.reindex(database, batch=batch, progress=progress, force=force)
    if terminal and result["articles"]:
        click.echo("", err=True)
    if result["status"] == "current":
        click.echo(f"search index is up to date (word analyser {result['version']})")
        return
    click.echo(
        f"search index rebuilt with word analyser {result['version']}: "
        f"{result['articles']:,} articles in {result['seconds']:.1f} s"
    )


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


@cli.group()
def notify() -> None:
    """Notifications of new matches and outlet health (Apprise), and their outbox.

    Destinations are named in notify.yml beside the database (or MONITOR_NOTIFY_CONFIG, or
    MONITOR_NOTIFY_<NAME>=<Apprise URL>); a topic lists its own under `notify:`.
    """


def notify_config(obj: Context):
    from monitor import notify as notifying

    return notifying.load_config(notifying.config_path(obj.db))


@notify.command(name="send")
@click.pass_obj
def notify_send(obj: Context) -> None:
    """Send the notifications that are due now (the scheduler does this every 30 s).

    Example: monitor notify send
    """
    from monitor import outbox

    config = notify_config(obj)
    counts = outbox.send_pending(db.open_db(obj.db), config)
    click.echo(
        f"{counts['sent']} message(s) sent carrying {counts['matches']} match(es); "
        f"{counts['failed']} failed; {counts['waiting']} waiting"
    )
    if counts["failed"]:
        sys.exit(1)


@notify.command(name="test")
@click.argument("target", required=False)
@click.pass_obj
def notify_test(obj: Context, target: str | None) -> None:
    """Send a test message to a destination (or every one), or to an Apprise URL given here.

    Exit status 0 only if it was delivered. Example: monitor notify test newsroom
    """
    from monitor import notify as notifying

    config = notify_config(obj)
    if target and "://" in target:
        targets = [("the URL", (target,))]
    elif target:
        if target not in config.destinations:
            known = ", ".join(config.destinations) or "none configured"
            fail(f"unknown destination {target!r} (destinations: {known})")
        targets = [(target, config.destinations[target].urls)]
    else:
        if not config.destinations:
            fail(f"no destinations configured in {notifying.config_path(obj.db)}")
        targets = [(name, d.urls) for name, d in config.destinations.items()]
    failed = 0
    for name, urls in targets:
        ok, reason = notifying.deliver(
            urls,
            "monitor: test message",
            f"A test message from monitor ({db.now()}): notifications to {name} work.",
        )
        if ok:
            click.echo(f"{name}: delivered")
        else:
            failed += 1
            click.echo(f"{name}: NOT delivered: {reason}")
    if failed:
        sys.exit(1)


@notify.command(name="list")
@click.pass_obj
def notify_list(obj: Context) -> None:
    """List the destinations (names, kinds and digests; never their addresses) and topics.

    Example: monitor notify list
    """
    from monitor import notify as notifying

    config = notify_config(obj)
    routes, _ = notifying.topic_routes(obj.topics)
    health = set(config.health_destinations())
    for name, dest in config.destinations.items():
        kinds = ", ".join(sorted({u.split("://", 1)[0] for u in dest.urls}))
        topics = [t for t, names in routes.items() if name in names]
        click.echo(
            f"{name}: {len(dest.urls)} URL(s) ({kinds}); {dest.describe()}; "
            f"topics: {', '.join(topics) or '-'}; health: {'yes' if name in health else 'no'}"
        )
    for topic, names in routes.items():
        for name in names:
            if name not in config.destinations:
                click.echo(f"warning: topic {topic} notifies {name!r}, which is not configured")


@cli.command()
@click.argument("slugs", nargs=-1)
@click.pass_obj
def health(obj: Context, slugs: tuple[str, ...]) -> None:
    """Each outlet's health: state, reason, since when, last success; exit 1 if any is unhealthy.

    Health changes are recorded and notified. Example: monitor health
    """
    from monitor import health as checking

    chosen = select(obj, slugs)
    database = db.open_db(obj.db)
    try:
        config = notify_config(obj)
    except MonitorError as exc:
        click.echo(f"warning: {exc}; health changes are not notified", err=True)
        config = None
    states = checking.check(database, chosen, config)
    rows = [("OUTLET", "STATE", "SINCE", "LAST SUCCESS", "REASON")]
    for s in states:
        rows.append((s.outlet, s.state, s.since or "-", s.last_success or "-", s.reason))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        cells = [v.ljust(w) for v, w in zip(r[:-1], widths, strict=True)]
        click.echo("  ".join([*cells, r[-1]]).rstrip())
    if any(s.state == "unhealthy" for s in states):
        sys.exit(1)


@cli.command()
@click.argument("topic")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "json"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--since",
    help="Only articles published on or after this date (YYYY-MM-DD; undated ones left out).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.pass_obj
def export(obj: Context, topic: str, fmt: str, since: str | None, output: Path | None) -> None:
    """Export every article matching TOPIC with its text: no row limit, newest first.

    Columns: topic, score, matched, published, modified, outlet, lang, url, title, lead, text,
    author. Example: monitor export qantar --format csv -o qantar.csv
    """
    from monitor import export as exporting

    if since:
        since = dates.parse_since(since, 0).date().isoformat()
    database = db.open_db(obj.db)
    known = exporting.known_topics(database)
    slug = {k.lower(): k for k in known}.get(topic.lower())
    if slug is None:
        fail(f"no matches for topic {topic!r}; topics with matches: {', '.join(known) or 'none'}")
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    filters = exporting.Filters(since=since)
    records = exporting.rows(database, slug, filters)
    try:
        if output is not None and sys.stderr.isatty():
            total = exporting.count(database, slug, filters)
            with click.progressbar(length=total, label=f"exporting {slug}", file=sys.stderr) as bar:
                written = exporting.write(out, records, fmt, lambda: bar.update(1))
        else:
            written = exporting.write(out, records, fmt)
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"exported {written:,} articles of {slug} to {output}", err=True)


@cli.group()
def outlet() -> None:
    """Work with one outlet: find what a registry entry for it needs."""


@outlet.command(name="check")
@click.argument("url")
@click.option("--slug", help="Slug for the entry [default: from the host name].")
@click.option("--name", help="Human name for the entry [default: the host name].")
@click.option("--samples", default=5, show_default=True, help="Articles to extract as a test.")
@click.option("--delay", default=1.0, show_default=True, help="Seconds between requests.")
def outlet_check(url: str, slug: str | None, name: str | None, samples: int, delay: float) -> None:
    """Find a site's feeds, sitemaps and article URL pattern; extract a few articles; print a
    ready entry for seeds/outlets.yml.

    robots.txt is obeyed and requests are sequential. Example: monitor outlet check https://vlast.kz
    """
    from monitor import discovery

    report = discovery.check(
        url, samples=samples, delay=delay, progress=lambda m: click.echo(f"  {m}", err=True)
    )
    host = report.base_url.split("://", 1)[1].removeprefix("www.")
    label = re.sub(r"[^a-z0-9]+", "_", host.split(".")[0].lower()).strip("_")
    slug = slug or (label if label[:1].isalpha() else "outlet")
    click.echo(f"feeds:    {', '.join(report.feeds) or '-'}")
    click.echo(f"sitemaps: {', '.join(report.sitemaps) or '-'}")
    click.echo(f"listings: {', '.join(report.listings) or '-'}")
    click.echo(f"article URLs found: {len(report.article_urls)}")
    if report.article_pattern:
        click.echo(
            f"article_pattern: {report.article_pattern} "
            f"(matches {report.coverage:.0%} of the URLs found)"
        )
    for sample in report.samples:
        if "error" in sample:
            click.echo(f"  ✗ {sample['url']}: {sample['error']}")
        else:
            date = sample["published"] or "no date"
            click.echo(f"  ✓ {sample['url']}")
            click.echo(
                f"    {sample['title'][:90]} | {date} | {sample['lang']} | "
                f"{len(sample['text']):,} characters"
            )
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo("\n# for seeds/outlets.yml (check it, then test with: monitor crawl " + slug + ")")
    click.echo(discovery.registry_entry(report, slug, name or host), nl=False)


@cli.command(name="search")
@click.argument("query", nargs=-1, required=True)
@click.option("--topic", help="Only articles matching this topic.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_obj
def search_command(obj: Context, query: tuple[str, ...], topic: str | None, limit: int) -> None:
    """Search the stored articles as Datasette's search does: every form and spelling of the
    words, best matches first, the words found marked in a snippet.

    The words are read as Datasette's search box reads them: '"two words"' (quoted for the
    shell) for a phrase, OR for either, -word to leave out, word* for a prefix.
    Example: monitor search Токаев '"январские события"'
    """
    from monitor import search

    q = " ".join(query)  # as typed in Datasette's search box
    database = db.open_db(obj.db)
    warn_if_index_stale(obj.db)
    found = search.search(database, q, limit=limit, topic=topic)
    if not found:
        click.echo(f"nothing found for {q}", err=True)
        sys.exit(1)
    zone = dates.display_zone()
    for article in found:
        when = in_zone(article["published"], zone) or "no date"
        click.echo(click.style(article["title"] or "(no title)", bold=True))
        topics = f" · {article['topics']}" if article["topics"] else ""
        click.echo(f"  {article['outlet']} · {when} · {article['lang']}{topics}")
        click.echo(f"  {article['url']}")
        snippet = article["snippet"] or ""
        marked, last = [], 0
        for start, end in search.hits(snippet, q):
            marked += [snippet[last:start], click.style(snippet[start:end], reverse=True)]
            last = end
        click.echo("  " + "".join([*marked, snippet[last:]]))
    click.echo(f"{len(found)} article{'' if len(found) == 1 else 's'}", err=True)
