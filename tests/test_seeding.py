"""`monitor seed`: the seed captures become clean articles, idempotently; bad files are named."""

import shutil
import subprocess
from pathlib import Path

import sqlite_utils

from monitor import seeding
from tests.conftest import run_monitor

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
CHROME = (
    "Коллаж Orda.kz",
    "Sputnik Казахстан, 1920",
    "Подписаться",
    "Читайте также",
    "Лента новостей",
    "Атака на КТК",
    "Зверополис",
    "Январская трагедия в Казахстане",
)


def monitor(db_path: Path, *args: str) -> subprocess.CompletedProcess:
    return run_monitor("--db", str(db_path), *args)


def test_both_seed_files_import_as_clean_matched_articles(db_path):
    result = monitor(db_path, "seed")
    assert result.returncode == 0, result.stderr
    database = sqlite_utils.Database(db_path)
    rows = {r["url"]: r for r in database["articles"].rows}
    assert set(rows) == {f"seed:{p.name}" for p in SEEDS}
    orda = rows["seed:000_0f7ca8e65e14babd.txt"]
    sputnik = rows["seed:002_ee7ec5683027e793.txt"]
    assert orda["outlet"] == "orda" and sputnik["outlet"] == "sputnik_ru"
    assert orda["title"] == "Қаңтар — не народное восстание: Токаев о причинах январских событий"
    assert sputnik["title"] == "Токаев переговорил с Путиным по телефону"
    assert sputnik["published"] == "2022-01-08"
    assert orda["published"] is None  # the capture gives no date
    assert all(r["source"] == "seed" and r["lang"] == "ru" for r in rows.values())
    assert "Амнистия применена в отношении 1 095 граждан" in orda["text"]
    assert orda["text"].rstrip().endswith("для проведения контртеррористической операции.")
    assert "Совет коллективной безопасности ОДКБ" in sputnik["text"]
    for row in rows.values():
        for phrase in CHROME:
            assert phrase not in row["text"] and phrase not in row["title"], phrase
    topics = {r["article_id"]: r["topic"] for r in database["matches"].rows}
    assert sorted(topics.values()) == ["qantar", "qantar"]


def test_seeding_twice_changes_nothing(db_path):
    assert monitor(db_path, "seed").returncode == 0
    database = sqlite_utils.Database(db_path)
    before = [list(database.query(f"select * from {t}")) for t in ("articles", "matches")]
    result = monitor(db_path, "seed")
    assert result.returncode == 0
    assert "unchanged" in result.stdout
    after = [list(database.query(f"select * from {t}")) for t in ("articles", "matches")]
    assert after == before
    assert database["versions"].count == 0


def test_bad_seed_files_are_named_and_the_others_still_imported(tmp_path, db_path):
    folder = tmp_path / "seeds"
    folder.mkdir()
    for path in SEEDS:
        shutil.copy(path, folder / path.name)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (folder / "latin1.txt").write_bytes("Заголовок\nТекст статьи".encode("cp1251"))
    shutil.copy(ROOT / "seeds" / "outlets.yml", folder / "outlets.yml")
    result = monitor(db_path, "--outlets", str(folder / "outlets.yml"), "seed")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "not imported" in line]
    assert len(errors) == 3
    assert any("empty.txt" in e and "empty file" in e for e in errors)
    assert any("binary.txt" in e and "binary" in e for e in errors)
    assert any("latin1.txt" in e and "not UTF-8" in e for e in errors)
    assert "Traceback" not in result.stderr
    assert sqlite_utils.Database(db_path)["articles"].count == 2


def test_parse_capture_finds_the_sputnik_date_and_skips_the_story_box():
    fields = seeding.parse_capture(SEEDS[1].read_text("utf-8"), SEEDS[1].name)
    assert fields["lead"].startswith("Токаев выразил признательность")
    assert fields["text"].splitlines()[1].startswith("НУР-СУЛТАН, 8 янв - Sputnik.")
