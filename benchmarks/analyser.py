"""The word analyser's speed (monitor/text.py): words per second of stem_text, cold and warm.

Cold is a fresh process meeting every word for the first time (what an extraction worker does
with its first pages, and `monitor rematch` or `monitor reindex` with the first articles); warm
is the same text again, every word's key cached. Both include tokenising and normalising.

The text is real reporting when it is there: the topic evaluation set, read by path
(../shared/eval/topics/qantar-dev.json, evaluation only: nothing of it is kept), else the
replica sites' articles of monitor/replica/. Each measurement runs in a new process.

    .venv/bin/python benchmarks/analyser.py [--corpus FILE.json] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "topics" / "qantar-dev.json"


def corpus(path: Path | None) -> tuple[str, list[str]]:
    """(what it is, texts): the evaluation set's texts if present, else the replicas'."""
    path = path or EVAL
    if path.exists():
        items = json.loads(path.read_text(encoding="utf-8"))
        texts = [
            "\n".join([item.get("title") or "", item.get("lead") or "", *item["paragraphs"]])
            for item in items
        ]
        return f"{path.name} ({len(texts)} texts)", texts
    sys.path.insert(0, str(ROOT))
    from monitor.replica.orda import OrdaSite
    from monitor.replica.sputnik import SputnikSite

    articles = [a for s in (OrdaSite(), SputnikSite("ru"), SputnikSite("kz")) for a in s.articles]
    texts = ["\n".join([a.title, a.lead or "", *a.paragraphs]) for a in articles]
    return f"replica articles ({len(texts)})", texts


def measure(texts: list[str]) -> dict[str, float]:
    """In this process: load time, words, unique words, cold and warm words/s."""
    started = time.perf_counter()
    from monitor import text

    text.stem_text("Токаев")  # loads the dictionary and the vocabulary
    load = time.perf_counter() - started
    count = sum(len(text.words(t)) for t in texts)
    unique = len({w for t in texts for w in text.words(t)})
    started = time.perf_counter()
    for t in texts:
        text.stem_text(t)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for t in texts:
        text.stem_text(t)
    warm = time.perf_counter() - started
    return {
        "load": load,
        "words": count,
        "unique": unique,
        "cold": count / cold,
        "warm": count / warm,
        "version": getattr(text, "analyser_version", lambda: "1 (before versions)")(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="a JSON list of {title, lead, paragraphs}")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes to run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    name, texts = corpus(args.corpus)
    if args.child:
        print(json.dumps(measure(texts)))
        return
    cmd = [sys.executable, __file__, "--child"]
    if args.corpus:
        cmd += ["--corpus", str(args.corpus)]
    runs = [
        json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        for _ in range(args.repeat)
    ]
    first = runs[0]
    print(
        f"word analyser {first['version']} on {name}: {first['words']:,} words, "
        f"{first['unique']:,} distinct; load {statistics.median(r['load'] for r in runs):.2f} s; "
        f"cold {statistics.median(r['cold'] for r in runs):,.0f} words/s; "
        f"warm {statistics.median(r['warm'] for r in runs):,.0f} words/s "
        f"(median of {len(runs)} processes)"
    )


if __name__ == "__main__":
    main()
