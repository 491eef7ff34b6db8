"""`make eval` (extraction): score article extraction on real third-party pages.

Reads the evaluation data by path (default ../shared/eval/extraction/, `--data DIR` to point
elsewhere; the pages are never copied into the project) and scores, side by side in one run:

- **monitor generic**: `monitor.extraction.extract()` with no outlet profile;
- **monitor + template**: the same with the outlet template (monitor/template.py) learned from
  the *other* pages of the same site (leave-one-out; only DAnIEL has several pages per site);
- **trafilatura default** and **trafilatura favor_precision**: `trafilatura.extract()` as the
  Zyte benchmark runs it (`include_comments=False`).

The prediction is the title and the text for DAnIEL (its reference starts with the headline),
the text only for Zyte (its reference is the body alone); trafilatura gets its own title on
DAnIEL too. The score (benchmarks/scoring.py) is the one SCORING.md describes; before scoring,
the script checks that it reproduces the published trafilatura 2.0.0 figures from the
predictions shipped with the Zyte data (F1 0.958, P 0.938, R 0.978). A refusal is a page with a
reference text for which a system gives no text (monitor: ExtractionError).

    .venv/bin/python benchmarks/eval_extraction.py [--data DIR] [--no-append] [--diffs DIR]
"""

from __future__ import annotations

import argparse
import gzip
import html as html_lib
import json
import multiprocessing
import os
import platform
import re
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scoring import CorpusScore, score_corpus, score_document  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "extraction"
PUBLISHED = {"f1": 0.958, "precision": 0.938, "recall": 0.978}  # trafilatura 2.0.0 on Zyte
SYSTEMS = ("monitor", "monitor+template", "trafilatura", "trafilatura precision")


# -- the corpora ---------------------------------------------------------------------------------


def zyte_pages(data: Path) -> list[dict]:
    root = data / "zyte-article-extraction-benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        {
            "corpus": "zyte",
            "id": key,
            "site": key,  # one page per site
            "path": str(root / "html" / f"{key}.html.gz"),
            "url": value.get("url") or f"https://zyte.invalid/{key}",
            "reference": value.get("articleBody") or "",
        }
        for key, value in sorted(truth.items())
    ]


_P = re.compile(r"<p[^>]*>(.*?)</p>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def daniel_pages(data: Path) -> list[dict]:
    root = data / "daniel-ru"
    pages = []
    for path in sorted((root / "html").iterdir()):
        ref = (root / "reference" / path.name).read_text(encoding="utf-8", errors="replace")
        lines = [html_lib.unescape(_TAG.sub("", m)).strip() for m in _P.findall(ref)]
        _, domain, _ = path.name.split("_", 2)
        pages.append(
            {
                "corpus": "daniel-ru",
                "id": path.name,
                "site": domain,
                "path": str(path),
                "url": f"http://{domain}/{path.name}",
                "reference": "\n".join(line for line in lines if line),
            }
        )
    return pages


def read_page(page: dict) -> bytes:
    raw = Path(page["path"]).read_bytes()
    return gzip.decompress(raw) if page["path"].endswith(".gz") else raw


# -- the systems (run in worker processes) -------------------------------------------------------


def _with_title(page: dict, title: str | None, text: str | None) -> str:
    if page["corpus"] == "daniel-ru" and title:
        return f"{title}\n{text or ''}"
    return text or ""


def _monitor(page: dict, body: bytes, chrome: frozenset[int] = frozenset()) -> dict:
    from monitor import extraction

    blocks: list[int] = []
    try:
        fields = extraction.extract(body, page["url"], chrome=chrome, blocks=blocks)
    except extraction.ExtractionError as exc:
        return {"text": "", "refused": str(exc), "blocks": blocks}
    return {"text": _with_title(page, fields["title"], fields["text"]), "blocks": blocks}


def _trafilatura(page: dict, body: bytes, **options: bool) -> dict:
    import trafilatura

    html = body.decode("utf-8", errors="replace")
    doc = trafilatura.bare_extraction(html, include_comments=False, with_metadata=True, **options)
    if doc is None or not doc.text:
        return {"text": "", "refused": "no text"}
    return {"text": _with_title(page, doc.title, doc.text)}


def first_pass(page: dict) -> dict:
    """Every system but the template on one page, and the page's blocks for the template."""
    body = read_page(page)
    out = {"id": page["id"]}
    started = time.perf_counter()
    generic = _monitor(page, body)
    out["seconds"] = time.perf_counter() - started
    out["blocks"] = generic.pop("blocks")
    out["monitor"] = generic
    out["trafilatura"] = _trafilatura(page, body)
    out["trafilatura precision"] = _trafilatura(page, body, favor_precision=True)
    return out


def template_pass(args: tuple[dict, list[list[int]]]) -> dict:
    """The generic path with the template learned from the site's other pages."""
    from monitor.template import Template

    page, others = args
    template = Template()
    for blocks in others:
        template.observe(blocks)
    result = _monitor(page, read_page(page), chrome=template.chrome())
    result.pop("blocks")
    return {"id": page["id"], "monitor+template": result}


# -- the run -------------------------------------------------------------------------------------


def check_scorer(data: Path) -> CorpusScore:
    root = data / "zyte-article-extraction-benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    shipped = json.loads((root / "output" / "trafilatura.json").read_text(encoding="utf-8"))
    shipped = shipped.get("output", shipped)
    score = score_corpus(
        {k: (v or {}).get("articleBody") for k, v in shipped.items()},
        {k: v.get("articleBody") for k, v in truth.items()},
    )
    got = {"f1": score.f1, "precision": score.precision, "recall": score.recall}
    ok = all(round(got[k], 3) == PUBLISHED[k] for k in PUBLISHED)
    print(
        f"scorer check on the shipped trafilatura 2.0.0 predictions: F1 {score.f1:.3f}, "
        f"P {score.precision:.3f}, R {score.recall:.3f} (published 0.958 / 0.938 / 0.978): "
        + ("OK" if ok else "MISMATCH")
    )
    if not ok:
        raise SystemExit("Error: the scorer does not reproduce the published figures")
    return score


def run(data: Path, workers: int) -> tuple[dict, dict]:
    corpora = {"zyte": zyte_pages(data), "daniel-ru": daniel_pages(data)}
    pages = [p for pages in corpora.values() for p in pages]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        first = {r["id"]: r for r in pool.imap_unordered(first_pass, pages, chunksize=4)}
        by_site: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for page in pages:
            by_site[page["corpus"], page["site"]].append(page)
        jobs = []
        for page in pages:
            siblings = by_site[page["corpus"], page["site"]]
            others = [first[p["id"]]["blocks"] for p in siblings if p["id"] != page["id"]]
            if others:
                jobs.append((page, others))
            else:  # a lone page: no template to learn, the generic result stands
                first[page["id"]]["monitor+template"] = first[page["id"]]["monitor"]
        for r in pool.imap_unordered(template_pass, jobs, chunksize=2):
            first[r["id"]].update(r)
    return corpora, first


def table(corpora: dict, results: dict) -> tuple[list[str], dict]:
    rows = [
        "| corpus | system | F1 | precision | recall | accuracy | refusals |",
        "|---|---|---|---|---|---|---|",
    ]
    figures = {}
    for corpus, pages in corpora.items():
        refs = {p["id"]: p["reference"] for p in pages}
        for system in SYSTEMS:
            if system == "monitor+template" and corpus == "zyte":
                continue  # one page per site: nothing to learn, same as monitor
            preds = {p["id"]: results[p["id"]][system]["text"] for p in pages}
            refused = sum(
                1 for p in pages if results[p["id"]][system].get("refused") and p["reference"]
            )
            s = score_corpus(preds, refs)
            figures[corpus, system] = s
            rows.append(
                f"| {corpus} ({len(pages)}) | {system} | {s.f1:.3f} | {s.precision:.3f} "
                f"| {s.recall:.3f} | {s.accuracy:.3f} | {refused} |"
            )
    return rows, figures


def write_diffs(corpora: dict, results: dict, folder: Path) -> None:
    """Per page: the scores of each system and the monitor text, worst first (for study)."""
    folder.mkdir(parents=True, exist_ok=True)
    for corpus, pages in corpora.items():
        lines = []
        for p in pages:
            r = results[p["id"]]
            d = score_document(r["monitor+template"]["text"], p["reference"])
            g = score_document(r["monitor"]["text"], p["reference"])
            t = score_document(r["trafilatura precision"]["text"], p["reference"])
            lines.append((d.precision or 0, d.recall or 0, g, t, p, r))
        lines.sort(key=lambda x: x[0] + x[1])
        with open(folder / f"{corpus}.txt", "w", encoding="utf-8") as out:
            for pr, rc, g, t, p, r in lines:
                out.write(
                    f"=== {p['id']} template P {pr:.2f} R {rc:.2f} | generic P "
                    f"{g.precision or 0:.2f} R {g.recall or 0:.2f} | traf-prec P "
                    f"{t.precision or 0:.2f} R {t.recall or 0:.2f} "
                    f"{r['monitor'].get('refused', '')}"
                    f"\n--- monitor+template:\n{r['monitor+template']['text']}\n"
                    f"--- reference:\n{p['reference']}\n\n"
                )


def append(rows: list[str], timing: str) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as out:
        out.write(
            f"\n## Extraction quality, {when}, commit {commit or '?'} "
            f"({platform.python_version()}, {os.cpu_count()} cores)\n\n"
        )
        out.write("\n".join(rows) + f"\n\n{timing}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the evaluation folder")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-append", action="store_true", help="leave BENCHMARKS.md alone")
    parser.add_argument("--diffs", type=Path, help="write per-page texts and scores here")
    args = parser.parse_args()
    if not (args.data / "zyte-article-extraction-benchmark").is_dir():
        raise SystemExit(f"Error: no evaluation data in {args.data} (--data DIR)")
    check_scorer(args.data)
    started = time.perf_counter()
    corpora, results = run(args.data, args.workers)
    wall = time.perf_counter() - started
    rows, _ = table(corpora, results)
    seconds = [r["seconds"] for r in results.values()]
    timing = (
        f"{len(results)} pages in {wall:.0f} s with {args.workers} workers; monitor generic "
        f"extraction: median {1000 * sorted(seconds)[len(seconds) // 2]:.1f} ms per page."
    )
    print("\n".join(rows))
    print(timing)
    if args.diffs:
        write_diffs(corpora, results, args.diffs)
    if not args.no_append:
        append(rows, timing)


if __name__ == "__main__":
    main()
