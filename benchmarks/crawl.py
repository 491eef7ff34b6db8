"""`make bench`: crawl a big loopback replica with the real spiders and pipelines, and measure.

For each size N (default 2,000 and 10,000 articles; `--quick`: 200) this

1. builds the replicas (benchmarks/sites.py): N/2 Orda.kz pages (Russian and Kazakh) and N/2
   Sputnik (ru) pages of 40-120 KB each, cached on disk, served by monitor/replica/server.py on
   127.0.0.1 with their feeds, sitemaps and listings;
2. crawls them as `monitor crawl orda sputnik_ru` does (`python -m monitor.commands orda
   sputnik_ru`: both outlets side by side in one process; the project's registry entries
   pointed at the replicas, a fresh database, politeness off: no delay, no AutoThrottle, 16
   requests per site), measuring wall time, pages/s, CPU time (user + sys) of the crawl's whole
   process tree (the harness is the tree's subreaper, so the extraction workers count once
   reaped) and the peak of the summed VmRSS of the tree, sampled every 50 ms;
3. times the floor: one process calling trafilatura's bare_extraction (with the options the
   project's extraction passes) on the same N pages read from disk;
4. crawls the unchanged replica again into the same database, RECRAWLS times: the median wall
   time (a re-crawl is under a second, mostly Python and Scrapy starting, and one run varies by
   +-0.1 s on a shared machine) and the article pages fetched by all of them (counted by the
   server);
5. for the first size only, runs trafilatura's own command line over the same sitemaps
   (`trafilatura -i sitemaps.txt --sitemap --parallel 2`, no sleep between requests).

It prints one table and appends it, with the date, commit and machine, to BENCHMARKS.md.

    .venv/bin/python benchmarks/crawl.py [--sizes 2000,10000] [--quick] [--no-append]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import sites  # noqa: E402
from monitor import outlets as monitor_outlets  # noqa: E402
from monitor import runner  # noqa: E402
from monitor.replica.server import ReplicaServer  # noqa: E402
from tests.replica.registry import write_registry  # noqa: E402

PYTHON = sys.executable
SPIDERS = ("orda", "sputnik_ru")
CRAWL_SETTINGS = {
    # Politeness off for the loopback replica only (robots.txt is still obeyed).
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "LOG_LEVEL": "INFO",
}
SAMPLE_EVERY = 0.05  # seconds between memory samples
RECRAWLS = 3  # re-crawls of the unchanged replica; the median is reported
CLI_TIMEOUT = 1800  # seconds: trafilatura's CLI is stopped after this long
PR_SET_CHILD_SUBREAPER = 36


# -- measuring a process tree -------------------------------------------------------------------


@dataclass
class Run:
    wall: float = 0.0
    cpu: float = 0.0  # user + sys of the whole tree, in seconds
    harness_cpu: float = 0.0  # user + sys of this process meanwhile (the replica servers)
    peak_rss: int = 0  # bytes: the largest sum of VmRSS over the tree at one sample
    returncode: int | None = None
    extra: dict = field(default_factory=dict)


def _become_subreaper() -> None:
    """Orphans of our children (the forkserver and its workers) are reparented to us."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(root: int) -> int:
    """The summed VmRSS of `root` and all its descendants, in bytes."""
    children = _children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss(pid)
        stack.extend(children.get(pid, ()))
    return total


def _terminate_tree(root: int) -> None:
    """SIGTERM to a process we started and to its descendants."""
    children, stack, found = _children_map(), [root], []
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    for pid in found:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def run_measured(
    cmd: list[str], *, env: dict, log: Path, cwd: Path = ROOT, timeout: float | None = None
) -> Run:
    """Run `cmd` to its end; measure wall time, CPU of its whole tree and peak tree RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    returncode, wall, deadline = None, 0.0, None
    while True:  # reap the crawl and every orphan it leaves (we are the subreaper)
        try:
            pid, status, _ = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == proc.pid:
            wall = time.perf_counter() - started
            returncode = os.waitstatus_to_exitcode(status)
            proc.returncode = returncode
            done.set()
            deadline = time.monotonic() + 30
        if pid == 0:
            if returncode is None and timeout and time.perf_counter() - started > timeout:
                print(f"warning: {cmd[:4]} over {timeout:.0f} s; stopped")
                _terminate_tree(proc.pid)
                deadline = time.monotonic() + 30
            if deadline is not None and time.monotonic() > deadline:
                print(f"warning: descendants of {cmd[:4]} still running; CPU not counted")
                break
            time.sleep(0.01)
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    harness = (
        after_self.ru_utime - before_self.ru_utime + after_self.ru_stime - before_self.ru_stime
    )
    return Run(wall=wall, cpu=cpu, harness_cpu=harness, peak_rss=peak, returncode=returncode)


# -- the measured steps -------------------------------------------------------------------------


def crawl_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def crawl_all(servers: dict, db: Path, outlets: Path, log: Path, settings: dict) -> Run:
    """Both outlets side by side in one process: the command `monitor crawl` runs."""
    since = {sites.since(server.site.count) for server in servers.values()}
    assert len(since) == 1, since
    config = runner.RunConfig(
        db=str(db),
        outlets=str(outlets),
        topics=str(ROOT / "seeds" / "topics.yml"),
        since=since.pop(),
        settings=tuple(f"{k}={v}" for k, v in {**CRAWL_SETTINGS, **settings}.items()),
    )
    registry = monitor_outlets.load(outlets)
    cmd = runner.crawl_command([registry[slug] for slug in servers], config)
    before = {slug: s.hits(s.site.article_path_regex) for slug, s in servers.items()}
    run = run_measured(cmd, env=crawl_env(), log=log)
    if run.returncode != 0:
        raise SystemExit(f"the crawl exited with {run.returncode}; see {log}")
    run.extra["articles"] = sum(
        s.hits(s.site.article_path_regex) - before[slug] for slug, s in servers.items()
    )
    return run


def stored(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        failures = conn.execute("SELECT count(*) FROM failures").fetchone()[0]
    return articles, failures


def reextract(db: Path, outlets: Path, log: Path) -> Run:
    """`monitor reextract` of every stored article from the crawl's web archive."""
    cmd = [PYTHON, "-m", "monitor", "--db", str(db), "--outlets", str(outlets), "reextract"]
    run = run_measured(cmd, env=crawl_env(), log=log)
    if run.returncode != 0:
        raise SystemExit(f"reextract exited with {run.returncode}; see {log}")
    return run


def archive_bytes(db: Path) -> int:
    """The size of the crawl's WARC files (warc/ beside the database)."""
    return sum(path.stat().st_size for path in (db.parent / "warc").rglob("*.warc.gz"))


def floor(pages: list[tuple[Path, str]], work: Path, log: Path) -> Run:
    """trafilatura alone, in one process, on the same pages (imports not timed)."""
    listing = work / "floor-pages.txt"
    listing.write_text("".join(f"{path}\t{url}\n" for path, url in pages))
    out = work / "floor.json"
    cmd = [PYTHON, str(Path(__file__).resolve()), "--floor-worker", str(listing), str(out)]
    run = run_measured(cmd, env=crawl_env(), log=log)
    if run.returncode != 0:
        raise SystemExit(f"the floor run failed; see {log}")
    result = json.loads(out.read_text())
    run.extra.update(result)
    return run


def floor_worker(listing: Path, out: Path) -> None:
    import trafilatura

    from monitor.extraction import TRAFILATURA_OPTIONS

    pages = [line.split("\t") for line in listing.read_text().splitlines()]
    options = {**TRAFILATURA_OPTIONS, "favor_recall": True}  # as for an outlet with a body selector
    chars, empty = 0, 0
    started = time.perf_counter()
    cpu = time.process_time()
    for path, url in pages:
        html = Path(path).read_bytes().decode("utf-8")
        doc = trafilatura.bare_extraction(html, url=url, **options)
        text = (doc.text if doc is not None else "") or ""
        chars += len(text)
        empty += not text
    result = {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "pages": len(pages),
        "chars": chars,
        "empty": empty,
    }
    out.write_text(json.dumps(result))


TRAFILATURA_CONFIG = """[DEFAULT]
DOWNLOAD_TIMEOUT = 30
MAX_FILE_SIZE = 20000000
MIN_FILE_SIZE = 10
SLEEP_TIME = 0
USER_AGENTS =
COOKIE =
MAX_REDIRECTS = 2
SSRF_PROTECTION = off
INSECURE_SSL_FALLBACK = on
MIN_EXTRACTED_SIZE = 250
MIN_OUTPUT_SIZE = 1
MIN_OUTPUT_COMM_SIZE = 1
MAX_TREE_SIZE =
EXTRACTION_TIMEOUT = 30
MIN_DUPLCHECK_SIZE = 100
MAX_REPETITIONS = 2
EXTENSIVE_DATE_SEARCH = on
EXTERNAL_URLS = off
"""


# trafilatura's command line with two work-arounds: *.localhost resolves to 127.0.0.1 (courlan
# refuses URLs on a bare IP address or "localhost", so the replicas are shown to it under such
# names), and its URL store is not compressed (courlan 1.4.0's compressed UrlStore forgets that a
# URL was visited, so `--sitemap` fetches the sitemap itself again forever).
TRAFILATURA_MAIN = """
import socket, sys
import courlan.urlstore
resolve = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return resolve(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
init = courlan.urlstore.UrlStore.__init__
def uncompressed(self, *args, **kwargs):
    kwargs["compressed"] = False
    init(self, *args, **kwargs)
courlan.urlstore.UrlStore.__init__ = uncompressed
from trafilatura.cli import main
sys.argv[0] = "trafilatura"
main()
"""


def trafilatura_cli(servers: dict, work: Path, log: Path) -> Run:
    """trafilatura's own crawl of the same sitemaps: downloads in threads, no sleep."""
    config = work / "trafilatura.cfg"
    config.write_text(TRAFILATURA_CONFIG)
    named = {}
    for slug, server in servers.items():
        port = server.origin.rsplit(":", 1)[1]
        named[slug] = f"http://{slug.replace('_', '-')}.localhost:{port}"
        server.site.origin = named[slug]
    inputs = work / "sitemaps.txt"
    inputs.write_text(
        f"{named['orda']}/sitemap.xml\n{named['sputnik_ru']}/sitemap_article_index.xml\n"
    )
    output = work / "trafilatura-out"
    shutil.rmtree(output, ignore_errors=True)
    before = {slug: s.hits(s.site.article_path_regex) for slug, s in servers.items()}
    cmd = [PYTHON, "-c", TRAFILATURA_MAIN, "-i", str(inputs), "--sitemap", "--parallel", "2"]
    cmd += ["--config-file", str(config), "--with-metadata", "--json", "-o", str(output)]
    try:
        run = run_measured(cmd, env=crawl_env(), log=log, cwd=work, timeout=CLI_TIMEOUT)
    finally:
        for server in servers.values():
            server.site.origin = server.origin
    run.extra["articles"] = sum(
        s.hits(s.site.article_path_regex) - before[slug] for slug, s in servers.items()
    )
    files = [p for p in output.rglob("*") if p.is_file()] if output.exists() else []
    run.extra["written"] = len(files)
    return run


# -- the benchmark -----------------------------------------------------------------------------


@dataclass
class Result:
    n: int
    stored: int = 0
    failures: int = 0
    first: Run = field(default_factory=Run)
    floor: Run = field(default_factory=Run)
    again: list[Run] = field(default_factory=list)  # the re-crawls, fastest first

    @property
    def median_again(self) -> Run:
        return self.again[len(self.again) // 2]

    @property
    def again_articles(self) -> int:
        return sum(run.extra["articles"] for run in self.again)

    cli: Run | None = None


def build(n: int, cache: Path) -> dict[str, sites.BenchSite]:
    counts = {"orda": n // 2, "sputnik_ru": n - n // 2}
    built = {slug: sites.SITES[slug](counts[slug], cache) for slug in SPIDERS}
    started = time.perf_counter()
    for site in built.values():
        for i in range(site.count):
            site.page_file(i)
    took = time.perf_counter() - started
    if took > 1:
        print(f"  rendered missing pages in {took:.1f} s (cached in {cache})")
    return built


def bench(n: int, args: argparse.Namespace, with_cli: bool) -> Result:
    print(f"N = {n:,}")
    built = build(n, args.cache)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{n}-"))
    log = work / "crawl.log"
    result = Result(n)
    pages = [
        (site.page_file(i), site.paths[i]) for site in built.values() for i in range(site.count)
    ]
    pages = [(path, sites.ORIGIN + url) for path, url in pages]
    servers = {slug: ReplicaServer(site) for slug, site in built.items()}
    for server in servers.values():
        server.start()
    try:
        db = work / "monitor.db"
        outlets = write_registry(
            work / "outlets.yml", {slug: server.origin for slug, server in servers.items()}
        )
        settings = dict(args.setting)
        result.first = crawl_all(servers, db, outlets, log, settings)
        result.stored, result.failures = stored(db)
        print(
            f"  crawl: {result.first.wall:.1f} s, {result.stored} stored, "
            f"{result.failures} failures, CPU {result.first.cpu:.1f} s, "
            f"peak {result.first.peak_rss / 2**20:.0f} MB"
        )
        result.floor = floor(pages, work, log)
        print(f"  floor: {result.floor.extra['seconds']:.1f} s")
        again = reextract(db, outlets, log)
        print(
            f"  reextract from the archive: {again.wall:.1f} s, "
            f"{result.stored / again.wall:.0f} pages/s, CPU {again.cpu:.1f} s, "
            f"archive {archive_bytes(db) / max(result.stored, 1) / 1024:.1f} KB per article"
        )
        result.again = sorted(
            (crawl_all(servers, db, outlets, log, settings) for _ in range(RECRAWLS)),
            key=lambda run: run.wall,
        )
        print(
            f"  re-crawl ({RECRAWLS} times): median {result.median_again.wall:.2f} s "
            f"({result.again[0].wall:.2f}-{result.again[-1].wall:.2f}), "
            f"{result.again_articles} article pages fetched"
        )
        if with_cli and not args.skip_cli:
            result.cli = trafilatura_cli(servers, work, work / "trafilatura.log")
            print(
                f"  trafilatura CLI: {result.cli.wall:.1f} s, "
                f"{result.cli.extra['written']} documents written"
            )
    finally:
        for server in servers.values():
            server.stop()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"  kept {work}")
    return result


COLUMNS = [
    "N",
    "stored",
    "crawl s",
    "pages/s",
    "crawl CPU s",
    "server CPU s",
    "peak RSS MB",
    "floor s",
    "crawl / floor",
    "re-crawl s (median, range)",
    "re-crawl / crawl",
    "re-crawl article fetches",
    "trafilatura CLI s",
]


def row(r: Result) -> list[str]:
    floor_s = r.floor.extra["seconds"]
    cli = "–"
    if r.cli is not None:
        cli = f"{r.cli.wall:.1f} ({r.cli.extra['written']} docs)"
    return [
        f"{r.n:,}",
        f"{r.stored:,}" + (f" ({r.failures} failed)" if r.failures else ""),
        f"{r.first.wall:.1f}",
        f"{r.stored / r.first.wall:.0f}",
        f"{r.first.cpu:.1f}",
        f"{r.first.harness_cpu:.1f}",
        f"{r.first.peak_rss / 2**20:.0f}",
        f"{floor_s:.1f}",
        f"{r.first.wall / floor_s:.2f}",
        f"{r.median_again.wall:.2f} ({r.again[0].wall:.2f}-{r.again[-1].wall:.2f})",
        f"{r.median_again.wall / r.first.wall:.1%}",
        f"{r.again_articles}",
        cli,
    ]


def table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(r)) + " |" for r in results]
    return "\n".join(lines)


def machine() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    commit = (commit or "unknown") + (" + uncommitted changes" if dirty else "")
    cpu = platform.processor() or platform.machine()
    return (
        f"{datetime.now():%Y-%m-%d %H:%M}, commit {commit}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,10000", help="article counts, comma-separated")
    parser.add_argument("--quick", action="store_true", help="a smoke run: N=200")
    parser.add_argument("--skip-cli", action="store_true", help="do not run trafilatura's CLI")
    parser.add_argument("--no-append", action="store_true", help="do not write BENCHMARKS.md")
    parser.add_argument("--keep", action="store_true", help="keep databases and logs")
    parser.add_argument(
        "--cache", type=Path, default=ROOT / "benchmarks" / ".cache", help="page cache folder"
    )
    parser.add_argument(
        "-s",
        dest="setting",
        action="append",
        default=[],
        type=lambda s: tuple(s.split("=", 1)),
        help="extra Scrapy setting for the crawls, KEY=VALUE",
    )
    parser.add_argument("--floor-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_worker:
        floor_worker(*args.floor_worker)
        return
    sizes = [200] if args.quick else [int(s) for s in re.split(r"[,\s]+", args.sizes) if s]
    _become_subreaper()
    results = [bench(n, args, with_cli=(i == 0)) for i, n in enumerate(sizes)]
    text = table(results)
    header = machine()
    if args.setting:
        header += ", settings " + " ".join(f"{k}={v}" for k, v in args.setting)
    print()
    print(header)
    print(text)
    if not args.no_append:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as f:
            f.write(f"\n### {header}\n\n{text}\n")
        print("\nappended to BENCHMARKS.md")


if __name__ == "__main__":
    main()
