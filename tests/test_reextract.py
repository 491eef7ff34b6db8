"""`monitor reextract`: the current extraction over the archived pages, without recrawling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlite_utils
import yaml

from monitor import extraction, outlets, reextraction
from monitor.replica.orda import OrdaSite
from monitor.replica.server import ReplicaServer
from tests.conftest import ROOT, SINCE, expected_articles, run_monitor, scrapy_crawl


@pytest.fixture
def crawled(db_path):
    """A database of one crawl of the Orda replica, with its archive; the site's articles."""
    with ReplicaServer(OrdaSite()) as server:
        result = scrapy_crawl("orda", db_path, f"base_url={server.origin}", f"since={SINCE}")
        assert result.returncode == 0, result.stderr[-3000:]
        return expected_articles(server.site)


def profile_dropping(tmp_path: Path, paragraph: str) -> Path:
    """A copy of the outlet registry whose Orda profile drops one more line: `paragraph`."""
    data = yaml.safe_load((ROOT / "seeds" / "outlets.yml").read_text(encoding="utf-8"))
    orda = next(entry for entry in data["outlets"] if entry["slug"] == "orda")
    orda["extraction"]["drop_text"].append("^" + re.escape(paragraph[:40]))
    path = tmp_path / "outlets.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_changed_profile_updates_only_the_articles_it_changes(crawled, db_path, tmp_path):
    target = next(a for a in crawled if len(a.paragraphs) >= 3)
    dropped = target.paragraphs[-1]
    assert sum(dropped[:40] in p for a in crawled for p in a.paragraphs) == 1
    registry = profile_dropping(tmp_path, dropped)

    result = run_monitor("--db", str(db_path), "--outlets", str(registry), "reextract", "orda")
    assert result.returncode == 0, result.stderr
    count = len(crawled)
    assert f"re-extracted {count} pages" in result.stdout
    assert "1 changed" in result.stdout and f"{count - 1} unchanged" in result.stdout
    assert f"{count}/{count} pages" in result.stderr  # progress

    database = sqlite_utils.Database(db_path)
    row = next(database["articles"].rows_where("url = ?", [target.url]))
    assert dropped not in row["text"]
    assert target.paragraphs[0] in row["text"]
    (version,) = database["versions"].rows
    assert version["article_id"] == row["id"] and version["replaced_by"] == "reextract"
    assert dropped in version["text"]
    versions = {r[0] for r in database.execute("select extraction_version from articles")}
    assert versions == {extraction.EXTRACTION_VERSION}

    # Again with the same profile: nothing changes, no version is added.
    again = run_monitor(
        "--db", str(db_path), "--outlets", str(registry), "reextract", "orda", "--restart"
    )
    assert again.returncode == 0, again.stderr
    assert "0 changed" in again.stdout
    assert database["versions"].count == 1


def test_an_interrupted_run_resumes_where_it_stopped(crawled, db_path):
    registry = outlets.load(ROOT / "seeds" / "outlets.yml")
    seen: list[int] = []

    def interrupt(done: int, total: int, seconds: float) -> None:
        seen.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reextraction.reextract(db_path, registry, ["orda"], progress=interrupt, batch=5)
    assert seen == [5]
    result = reextraction.reextract(db_path, registry, ["orda"], batch=5)
    assert result.resumed_from > 0
    assert result.pages == len(crawled) - 5
    # Finished: the next run starts afresh.
    assert reextraction.reextract(db_path, registry, ["orda"]).pages == len(crawled)


def test_bad_arguments_are_one_line_errors(db_path):
    for args in (["reextract", "nowhere"], ["reextract", "--since", "yesterday"]):
        result = run_monitor("--db", str(db_path), *args)
        assert result.returncode == 2
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
