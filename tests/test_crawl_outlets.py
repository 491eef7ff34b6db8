"""Several outlets in one crawl: `scrapy crawl orda tengrinews` and `monitor crawl`.

The Orda.kz replica and the generic (Tengrinews-like) replica are served on loopback, and a copy
of the project's registry points both outlets at them. The outlets are crawled side by side in
one process that shares its extraction workers between them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from monitor.replica.generic import GenericSite
from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer
from tests.conftest import (
    FAST,
    ROOT,
    SINCE,
    assert_stored_exactly,
    clean_env,
    expected_articles,
    run_monitor,
    scrapy_crawl,
)
from tests.replica.registry import write_registry
from tests.test_crawl_orda import extraction_workers


@pytest.fixture
def replicas(tmp_path: Path):
    with ReplicaServer(OrdaSite()) as orda, ReplicaServer(GenericSite()) as generic:
        servers = {"orda": orda, "tengrinews": generic}
        origins = {slug: server.origin for slug, server in servers.items()}
        yield servers, write_registry(tmp_path / "outlets.yml", origins)


def assert_both_stored(servers: dict, db_path: Path) -> list[dict]:
    database = sqlite_utils.Database(db_path)
    for slug, server in servers.items():
        assert_stored_exactly(database, server.site, expected_articles(server.site), slug)
    assert database["articles"].count == sum(
        len(expected_articles(server.site)) for server in servers.values()
    )
    runs = list(database["crawls"].rows)
    assert sorted(run["outlet"] for run in runs) == ["orda", "tengrinews"]
    assert {run["status"] for run in runs} == {"ok"}
    return runs


def test_two_outlets_crawl_side_by_side_in_one_process_sharing_its_workers(replicas, db_path):
    servers, registry = replicas
    cmd = [sys.executable, "-m", "scrapy", "crawl", "orda", "tengrinews", "-a", f"since={SINCE}"]
    settings = {**FAST, "MONITOR_DB": str(db_path), "MONITOR_OUTLETS": str(registry)}
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    most = 0
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        most = max(most, len(extraction_workers(proc.pid)))
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()[-4000:]

    runs = assert_both_stored(servers, db_path)
    assert {run["pid"] for run in runs} == {proc.pid}
    # One pool for both outlets: no more workers than MONITOR_EXTRACT_WORKERS (2), not 2 each.
    assert 1 <= most <= 2


def test_monitor_crawl_runs_the_named_outlets_in_one_crawl_process(replicas, db_path):
    servers, registry = replicas
    args = ["--db", str(db_path), "--outlets", str(registry), "crawl", "orda", "tengrinews"]
    args += ["--since", SINCE]
    for key, value in FAST.items():
        args += ["-s", f"{key}={value}"]
    result = run_monitor(*args, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "crawling orda, tengrinews" in result.stderr
    runs = assert_both_stored(servers, db_path)
    assert len({run["pid"] for run in runs}) == 1


def test_an_outlet_is_crawled_by_its_name_whatever_its_spider(replicas, db_path):
    servers, registry = replicas
    result = scrapy_crawl(
        "tengrinews", db_path, f"since={SINCE}", settings={"MONITOR_OUTLETS": str(registry)}
    )
    assert result.returncode == 0, result.stderr[-4000:]
    site = servers["tengrinews"].site
    database = sqlite_utils.Database(db_path)
    assert_stored_exactly(database, site, expected_articles(site), "tengrinews")
    assert database["articles"].count == len(expected_articles(site))
    assert servers["orda"].log == []


@pytest.mark.parametrize(
    ("names", "args", "message"),
    [
        (["orda", "nosuch"], [], "no outlet or spider named 'nosuch'"),
        (["orda", "orda"], [], "an outlet is named twice"),
        (["orda", "tengrinews"], ["base_url=http://127.0.0.1:9"], "need exactly one"),
        (["orda", "tengrinews"], ["since=yesterday"], "yesterday"),
        (["orda", "tengrinews"], [], "invalid YAML"),
    ],
    ids=["unknown-name", "named-twice", "base-url-for-two", "bad-since", "broken-topic-file"],
)
def test_a_bad_crawl_of_several_outlets_stops_before_any_request(
    replicas, db_path, tmp_path, names, args, message
):
    servers, registry = replicas
    settings = {"MONITOR_OUTLETS": str(registry)}
    if message == "invalid YAML":
        topics = tmp_path / "topics.yml"
        topics.write_text("topics: [\n", encoding="utf-8")
        settings["MONITOR_TOPICS"] = str(topics)
    result = scrapy_crawl(names, db_path, *args, settings=settings)
    assert result.returncode == 2, result.stderr[-4000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and message in last
    assert "Traceback" not in result.stderr
    assert all(server.log == [] for server in servers.values())


def test_the_crawl_entry_point_without_a_name_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "monitor.commands"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("name at least one outlet or spider")
    assert "Traceback" not in result.stderr
