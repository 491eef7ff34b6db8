"""`monitor topics` and `monitor rematch` on a real database after the topic file changes."""

from pathlib import Path

import sqlite_utils

from tests.conftest import run_monitor

ROOT = Path(__file__).resolve().parent.parent


monitor = run_monitor


def test_topics_lists_rules_and_counts(db_path):
    assert monitor("--db", str(db_path), "seed").returncode == 0
    result = monitor("--db", str(db_path), "topics")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("qantar: ")
    assert "2 matches" in result.stdout
    assert "named event" in result.stdout


def test_rematch_applies_an_edited_topic_file_without_recrawling(db_path, tmp_path):
    assert monitor("--db", str(db_path), "seed").returncode == 0
    edited = tmp_path / "topics.yml"
    text = (ROOT / "seeds" / "topics.yml").read_text("utf-8")
    edited.write_text(text.replace("\n    threshold: 4\n", "\n    threshold: 400\n", 1), "utf-8")
    result = monitor("--db", str(db_path), "--topics", str(edited), "rematch")
    assert result.returncode == 0, result.stderr
    assert "rematched 2 articles" in result.stdout
    assert "qantar: 0 matches (was 2)" in result.stdout
    assert sqlite_utils.Database(db_path)["matches"].count == 0
    result = monitor("--db", str(db_path), "rematch")
    assert "qantar: 2 matches (was 0)" in result.stdout
    evidence = sqlite_utils.Database(db_path).execute("select evidence from matches").fetchone()[0]
    assert '"field"' in evidence and '"snippet"' in evidence


def test_a_broken_topic_file_is_refused_naming_file_topic_and_key(db_path, tmp_path):
    broken = tmp_path / "topics.yml"
    text = (ROOT / "seeds" / "topics.yml").read_text("utf-8")
    broken.write_text(
        text.replace("\n    threshold: 4\n", "\n    threshold: 4\n    colour: red\n", 1), "utf-8"
    )
    result = monitor("--db", str(db_path), "--topics", str(broken), "rematch")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(broken) in line and "'qantar'" in line and "colour" in line
