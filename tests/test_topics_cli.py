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


def edited_topics(tmp_path, old: str, new: str) -> Path:
    """A copy of seeds/topics.yml with one edit."""
    edited = tmp_path / "topics.yml"
    text = (ROOT / "seeds" / "topics.yml").read_text("utf-8")
    assert old in text
    edited.write_text(text.replace(old, new, 1), "utf-8")
    return edited


def test_a_missing_topic_file_stops_crawl_seed_and_schedule(db_path):
    for command in ("crawl", "seed", "schedule"):
        result = monitor("--db", str(db_path), "--topics", "/nonexistent/topics.yml", command)
        assert result.returncode == 2, (command, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert line == "Error: topic file /nonexistent/topics.yml does not exist"
    assert not db_path.exists() or sqlite_utils.Database(db_path)["articles"].count == 0


def test_match_prints_every_rule_with_evidence_and_the_threshold(db_path, tmp_path):
    seed = ROOT / "seeds" / "000_0f7ca8e65e14babd.txt"
    result = monitor("--db", str(db_path), "match", str(seed))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2].startswith("qantar: MATCH, score ") and lines[2].endswith("(threshold 4)")
    assert any("named event [title]" in line for line in lines)
    other = tmp_path / "note.txt"
    other.write_text("Погода в январе\nВ Астане ожидаются морозы до минус 30 градусов.\n", "utf-8")
    result = monitor("--db", str(db_path), "match", str(other))
    assert "qantar: no match, score 0 (threshold 4)" in result.stdout
    # A stored article by its URL, and a report of the days named by its date alone.
    assert monitor("--db", str(db_path), "seed").returncode == 0
    url = sqlite_utils.Database(db_path).execute("select url from articles").fetchone()[0]
    assert "MATCH" in monitor("--db", str(db_path), "match", url).stdout
    bad = monitor("--db", str(db_path), "match", "https://nowhere.invalid/a")
    assert bad.returncode == 2 and "no stored article" in bad.stderr


def test_a_report_of_the_days_matches_by_its_date_not_without_it(db_path, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text(
        "В Алматы ввели комендантский час\n"
        "Власти Алматы объявили комендантский час с 23:00 до 07:00 после беспорядков.\n"
        "На улицах города работают блокпосты, силовики проверяют документы.\n"
        "Мародеры разграбили несколько магазинов в центре города.\n",
        "utf-8",
    )
    dated = monitor("--db", str(db_path), "match", str(report), "--published", "2022-01-06")
    assert "qantar: MATCH" in dated.stdout, dated.stdout
    assert "the unrest as it happened" in dated.stdout
    later = monitor("--db", str(db_path), "match", str(report), "--published", "2020-04-01")
    assert "qantar: no match" in later.stdout, later.stdout
    undated = monitor("--db", str(db_path), "match", str(report))
    assert "the unrest as it happened" not in undated.stdout


def test_rematch_dry_run_lists_gains_and_losses_and_writes_nothing(db_path, tmp_path):
    assert monitor("--db", str(db_path), "seed").returncode == 0
    before = sqlite_utils.Database(db_path).execute("select * from matches").fetchall()
    stricter = edited_topics(tmp_path, "\n    threshold: 4\n", "\n    threshold: 400\n")
    result = monitor("--db", str(db_path), "--topics", str(stricter), "rematch", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "nothing written" in result.stdout
    assert "qantar: would have 0 matches (was 2)" in result.stdout
    titles = [r[0] for r in sqlite_utils.Database(db_path).execute("select title from articles")]
    for title in titles:
        assert any(
            line.strip().endswith(title) and "- " in line for line in result.stdout.splitlines()
        )
    assert sqlite_utils.Database(db_path).execute("select * from matches").fetchall() == before


def test_rematch_keeps_the_matched_time_of_a_match_that_still_holds(db_path, tmp_path):
    assert monitor("--db", str(db_path), "seed").returncode == 0
    database = sqlite_utils.Database(db_path)
    database.execute("update matches set matched = '2022-01-09T00:00:00+00:00'")
    database.conn.commit()
    result = monitor("--db", str(db_path), "rematch")
    assert result.returncode == 0, result.stderr
    stamps = {r[0] for r in sqlite_utils.Database(db_path).execute("select matched from matches")}
    assert stamps == {"2022-01-09T00:00:00+00:00"}
    # A match that goes away and comes back is new again.
    stricter = edited_topics(tmp_path, "\n    threshold: 4\n", "\n    threshold: 400\n")
    monitor("--db", str(db_path), "--topics", str(stricter), "rematch")
    monitor("--db", str(db_path), "rematch")
    stamps = {r[0] for r in sqlite_utils.Database(db_path).execute("select matched from matches")}
    assert len(stamps) == 1 and stamps != {"2022-01-09T00:00:00+00:00"}


def test_topic_draft_proposes_a_skeleton_that_loads(db_path, tmp_path):
    from monitor.topics import load_topics

    assert monitor("--db", str(db_path), "seed").returncode == 0
    seeds = sorted(str(p) for p in (ROOT / "seeds").glob("*.txt"))
    result = monitor("--db", str(db_path), "topic", "draft", *seeds, "--slug", "drafted")
    assert result.returncode == 0, result.stderr
    draft = tmp_path / "draft.yml"
    draft.write_text(result.stdout, "utf-8")
    (topic,) = load_topics(draft)
    assert topic.slug == "drafted" and topic.seeds == tuple(p.rsplit("/", 1)[1] for p in seeds)
    terms = {t.text for terms in topic.concepts.values() for t in terms}
    assert "ОДКБ" in terms and any(t.startswith("Токаев") for t in terms)


def test_match_reads_stdin(db_path):
    import subprocess
    import sys

    from tests.conftest import clean_env

    text = "Годовщина январских событий\nВ Алматы почтили память погибших в январских событиях.\n"
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(db_path), "match", "-", "--lang", "ru"],
        cwd=ROOT,
        env=clean_env(),
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Годовщина январских событий\n  language ru, published unknown")
    assert "qantar: MATCH" in result.stdout
