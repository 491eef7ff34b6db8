"""`make eval` (topics): score the `qantar` topic on real labeled texts, and on our own sets.

Reads the development set of real texts published by third parties (default
../shared/eval/topics/qantar-dev.json; the texts are read at run time and never copied into the
project) and scores it as its README says: the input is the lead and the paragraphs, plus the
title only when `title_source == "headline"`; `published` is passed as the article's date and
`lang` as its language, as the crawler stores them. It prints precision, recall and F1 with
TP/FP/FN/TN overall and per language, recall on the reports written during the events that do
not name them, false positives per irrelevant kind and misses per relevant kind; then the same
for the synthetic sets in tests/data/ (written for the project, undated); then the speed of
`monitor rematch` over a database of the development texts repeated to REMATCH_ARTICLES
articles (wall time and CPU time: the machine may be shared). It appends a dated table to
BENCHMARKS.md.

`--halves` also scores the even and odd entries apart (an over-fitting check: rules tuned on
one half should hold on the other). `--errors` lists the ids of the false positives and misses.

    .venv/bin/python benchmarks/eval_topics.py [PATH] [--topics FILE] [--halves] [--errors]
        [--no-append]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import db, matching  # noqa: E402
from monitor.topics import load_topics, match_article  # noqa: E402

DEFAULT_PATH = ROOT.parent / "shared" / "eval" / "topics"
DEV_FILE = "qantar-dev.json"
SYNTHETIC = ("qantar_eval.yml", "qantar_holdout.yml")
REMATCH_ARTICLES = 5_000
TOPIC = "qantar"


@dataclass
class Score:
    """Confusion counts of one set (or part of one)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    fp_ids: list[str] = field(default_factory=list)
    fn_ids: list[str] = field(default_factory=list)

    def add(self, ident: str, predicted: bool, relevant: bool) -> None:
        if predicted and relevant:
            self.tp += 1
        elif predicted:
            self.fp += 1
            self.fp_ids.append(ident)
        elif relevant:
            self.fn += 1
            self.fn_ids.append(ident)
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def row(self, name: str) -> str:
        return (
            f"| {name} | {self.precision:.3f} | {self.recall:.3f} | {self.f1:.3f} | "
            f"{self.tp} | {self.fp} | {self.fn} | {self.tn} |"
        )


def dev_input(entry: dict) -> dict:
    """The matcher's input for one development entry, as its README recommends."""
    title = entry["title"] if entry.get("title_source") == "headline" else ""
    return {
        "title": title or "",
        "lead": entry.get("lead") or "",
        "text": "\n".join(entry.get("paragraphs") or []),
        "published": entry.get("published"),
        "lang": entry.get("lang"),
    }


def predict(topics: list, article: dict) -> bool:
    return any(m.topic == TOPIC for m in match_article(topics, **article))


def score_dev(topics: list, entries: list[dict]) -> dict:
    """All the figures of the development set."""
    overall, by_lang = Score(), {"ru": Score(), "kk": Score()}
    halves = {"even": Score(), "odd": Score()}
    during = Score()
    fp_kind: Counter[str] = Counter()
    fn_kind: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for number, entry in enumerate(entries):
        relevant = entry["label"] == "relevant"
        predicted = predict(topics, dev_input(entry))
        ident = f"{entry['id']}({entry['lang']},{entry['kind']})"
        overall.add(ident, predicted, relevant)
        by_lang.setdefault(entry["lang"], Score()).add(ident, predicted, relevant)
        halves["even" if number % 2 == 0 else "odd"].add(ident, predicted, relevant)
        kinds[(entry["label"], entry["kind"])] += 1
        if relevant and entry.get("during_events") and not entry.get("names_event"):
            during.add(ident, predicted, relevant)
        if predicted and not relevant:
            fp_kind[entry["kind"]] += 1
        if relevant and not predicted:
            fn_kind[entry["kind"]] += 1
    return {
        "overall": overall,
        "lang": by_lang,
        "halves": halves,
        "during": during,
        "fp_kind": fp_kind,
        "fn_kind": fn_kind,
        "kinds": kinds,
    }


def score_synthetic(topics: list, name: str) -> Score:
    score = Score()
    for a in yaml.safe_load((ROOT / "tests" / "data" / name).read_text("utf-8")):
        article = {"title": a["title"], "lead": a.get("lead") or "", "text": a["text"]}
        score.add(a["id"], predict(topics, article), bool(a["label"]))
    return score


def rematch_speed(topics: list, entries: list[dict], count: int) -> tuple[int, float, float]:
    """Articles per second of matching.rematch() over `count` stored articles that already have
    their matches (as after a crawl): per second of wall time and of this process's CPU time
    (the machine may be shared)."""
    with tempfile.TemporaryDirectory() as folder:
        database = db.open_db(Path(folder) / "eval.db")
        with db.writing(database):
            for i in range(count):
                entry = entries[i % len(entries)]
                fields = dev_input(entry)
                fields.update(url=f"https://eval.invalid/{i}", outlet="eval", source="seed")
                db.save_article(database, fields)
        matching.rematch(database, topics)  # the matches a crawl would have stored
        started, cpu = time.perf_counter(), time.process_time()
        result = matching.rematch(database, topics)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        database.conn.close()
    return result["articles"], result["articles"] / seconds, result["articles"] / cpu


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), help="folder or JSON file")
    parser.add_argument("--topics", default=str(ROOT / "seeds" / "topics.yml"))
    parser.add_argument("--halves", action="store_true", help="score even/odd entries apart")
    parser.add_argument("--errors", action="store_true", help="list false positives and misses")
    parser.add_argument("--rematch", type=int, default=REMATCH_ARTICLES, help="0: skip")
    parser.add_argument("--no-append", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args()
    path = Path(args.path)
    if path.is_dir():
        path = path / DEV_FILE
    if not path.is_file():
        sys.exit(f"Error: no evaluation file at {path}")
    entries = json.loads(path.read_text("utf-8"))
    topics = [t for t in load_topics(args.topics) if t.slug == TOPIC]
    if not topics:
        sys.exit(f"Error: no topic {TOPIC!r} in {args.topics}")

    dev = score_dev(topics, entries)
    head = (
        "| set | precision | recall | F1 | TP | FP | FN | TN |\n|---|---|---|---|---|---|---|---|"
    )
    rows = [dev["overall"].row(f"{path.name}, all ({len(entries)})")]
    rows += [dev["lang"][lang].row(f"{path.name}, {lang}") for lang in sorted(dev["lang"])]
    if args.halves:
        rows += [dev["halves"][h].row(f"{path.name}, {h} entries") for h in ("even", "odd")]
    for name in SYNTHETIC:
        rows.append(score_synthetic(topics, name).row(f"tests/data/{name} (synthetic)"))
    during = dev["during"]
    lines = [
        head,
        *rows,
        "",
        f"Recall on the {during.tp + during.fn} reports written during the events that do not "
        f"name them: {during.recall:.3f} ({during.tp}/{during.tp + during.fn}).",
    ]
    irrelevant = sorted(k for label, k in dev["kinds"] if label == "irrelevant")
    relevant = sorted(k for label, k in dev["kinds"] if label == "relevant")
    lines.append(
        "False positives per irrelevant kind: "
        + ", ".join(
            f"{k} {dev['fp_kind'][k]}/{dev['kinds'][('irrelevant', k)]}" for k in irrelevant
        )
        + "."
    )
    misses = [k for k in relevant if dev["fn_kind"][k]]
    lines.append(
        "Misses per relevant kind: "
        + (
            ", ".join(f"{k} {dev['fn_kind'][k]}/{dev['kinds'][('relevant', k)]}" for k in misses)
            or "none"
        )
        + "."
    )
    if args.rematch:
        count, speed, cpu = rematch_speed(topics, entries, args.rematch)
        lines.append(
            f"`monitor rematch` over {count:,} stored copies of these texts: {speed:,.0f} "
            f"articles/s ({cpu:,.0f} per CPU second; load average {os.getloadavg()[0]:.1f})."
        )
    text = "\n".join(lines)
    print(text)
    if args.errors:
        print("\nfalse positives:", " ".join(dev["overall"].fp_ids) or "none")
        print("misses:", " ".join(dev["overall"].fn_ids) or "none")
    if not args.no_append:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        with (ROOT / "BENCHMARKS.md").open("a", encoding="utf-8") as out:
            out.write(
                f"\n## Topic `{TOPIC}` evaluation, {stamp}, commit {commit()}, "
                f"{platform.python_implementation()} {platform.python_version()}\n\n"
                f"`make eval` on {path.name} ({len(entries)} real texts) and the synthetic "
                "sets.\n\n"
                f"{text}\n"
            )


if __name__ == "__main__":
    main()
