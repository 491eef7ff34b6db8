"""The `monitor` command: a thin shell over the library and `scrapy crawl`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from monitor import __version__, outlets, settings
from monitor.errors import MonitorError


class Context:
    """Paths every command shares; from flags, else environment, else monitor.settings."""

    def __init__(self, db: str, outlets_path: str, topics_path: str):
        self.db = db
        self.outlets = outlets_path
        self.topics = topics_path


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
    for o in registry.values():
        when = f"cron {o.cron}" if o.cron else f"every {o.every} min"
        sources = len(o.feeds) + len(o.sitemaps) + len(o.listings)
        click.echo(
            f"{o.slug:<12} {o.name:<22} {o.lang or '-':<3} spider={o.spider:<11} {when:<16} "
            f"{sources} sources  {o.base_url}"
        )


def crawl_command(
    outlet: outlets.Outlet,
    obj: Context,
    since: str | None,
    base_url: str | None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The `scrapy crawl` command line for one outlet."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", outlet.spider]
    if outlet.spider == "news":
        cmd += ["-a", f"outlet={outlet.slug}"]
    if since:
        cmd += ["-a", f"since={since}"]
    if base_url:
        cmd += ["-a", f"base_url={base_url}"]
    cmd += [
        "-s",
        f"MONITOR_DB={obj.db}",
        "-s",
        f"MONITOR_OUTLETS={obj.outlets}",
        "-s",
        f"MONITOR_TOPICS={obj.topics}",
    ]
    for setting in extra:
        cmd += ["-s", setting]
    return cmd


def scrapy_env() -> dict[str, str]:
    """Environment for a `scrapy crawl` subprocess, wherever the caller's folder is."""
    env = dict(os.environ)
    env["SCRAPY_SETTINGS_MODULE"] = "monitor.settings"
    root = str(Path(settings.ROOT))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


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
    """Crawl outlets once (all of them when none is named), each in its own process.

    Example: monitor crawl orda --since 2022-01-01
    """
    registry = outlets.load(obj.outlets)
    unknown = [s for s in slugs if s not in registry]
    if unknown:
        fail(f"unknown outlet {unknown[0]!r}; outlets: {', '.join(registry)}")
    if base_url and len(slugs) != 1:
        fail("--base-url needs exactly one outlet")
    failed = 0
    for slug in slugs or tuple(registry):
        click.echo(f"crawling {slug} ...", err=True)
        result = subprocess.run(
            crawl_command(registry[slug], obj, since, base_url, extra), env=scrapy_env()
        )
        if result.returncode != 0:
            failed += 1
            click.echo(f"crawl of {slug} failed (exit {result.returncode})", err=True)
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def seed(obj: Context, paths: tuple[Path, ...]) -> None:
    """Import the seed page captures (seeds/*.txt) as articles; safe to run again.

    Example: monitor seed
    """
    from monitor import db, seeding
    from monitor.pipelines import load_topics

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
@click.pass_context
def run(ctx: click.Context) -> None:
    """Seed, then crawl every outlet once (what `make run` does).

    Example: monitor run
    """
    try:
        ctx.invoke(seed)
    except SystemExit as exc:
        if exc.code not in (0, None):
            click.echo("some seed files were not imported; going on", err=True)
    ctx.invoke(crawl)
