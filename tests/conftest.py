"""Shared fixtures: a fresh database file, replica sites on loopback, and crawl runners."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Settings that make a loopback crawl fast; politeness stays on for real sites.
FAST = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "RETRY_TIMES": "2",
    "DOWNLOAD_TIMEOUT": "10",
    "LOG_LEVEL": "INFO",
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


def clean_env() -> dict[str, str]:
    """The environment without MONITOR_* variables, so tests use only what they pass."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}


def run_monitor(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """`python -m monitor ARGS` in a subprocess from the repository root, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def scrapy_crawl(
    spider: str | list[str],
    db_path: Path,
    *args: str,
    settings: dict[str, str] | None = None,
    timeout: int = 120,
) -> subprocess.CompletedProcess:
    """Run `scrapy crawl` (of one spider or outlet, or several) in a subprocess from the
    repository root, as a user would."""
    names = [spider] if isinstance(spider, str) else spider
    cmd = [sys.executable, "-m", "scrapy", "crawl", *names]
    for arg in args:
        cmd += ["-a", arg]
    for key, value in {**FAST, "MONITOR_DB": str(db_path), **(settings or {})}.items():
        cmd += ["-s", f"{key}={value}"]
    return subprocess.run(
        cmd, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=timeout
    )


SINCE = "2022-01-01"  # the `since` of the crawl tests; the replicas reach back to 2021


def expected_articles(site) -> list:
    """The replica's articles a crawl with since=SINCE must store."""
    return [a for a in site.articles if a.expect == "stored" and a.published >= SINCE]


def article_requests(server) -> list[str]:
    """Paths of the article pages a replica server was asked for, in order."""
    pattern = re.compile(server.site.article_path_regex)
    return [r.path for r in server.log if pattern.search(r.path)]


def assert_stored_exactly(database, site, expected: list, outlet: str) -> dict[str, dict]:
    """Every expected article stored once with its exact fields, and no chrome in it."""
    rows = {row["url"]: row for row in database["articles"].rows_where("outlet = ?", [outlet])}
    assert sorted(rows) == sorted(a.url for a in expected)
    for article in expected:
        row = rows[article.url]
        assert row["outlet"] == outlet
        assert row["title"] == article.title
        assert row["lead"] == article.lead
        assert row["published"] == article.published, article.url
        assert row["modified"] == article.modified, article.url
        assert row["lang"] == article.lang, article.url
        assert row["author"] == article.author
        assert json.loads(row["tags"]) == article.tags
        for paragraph in article.paragraphs:
            assert paragraph in row["text"], (article.url, paragraph[:60])
        for phrase in site.chrome_phrases:
            for field in ("text", "title", "lead"):
                assert phrase not in (row[field] or ""), (article.url, field, phrase)
    return rows
