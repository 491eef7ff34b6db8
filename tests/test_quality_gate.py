"""The quality gate of the `qantar` topic: precision and recall on a labeled set, beside a baseline.

tests/data/qantar_eval.yml holds short articles written for this set in the outlets' styles,
Russian and Kazakh, relevant ones (some never saying Қаңтар, some with an unrelated title) and
hard negatives (the month word, Zhanaozen 2011, CSTO exercises, other riots, films, ...).
"""

from pathlib import Path

import pytest
import yaml

from monitor.topics import load_topics, match_article

ROOT = Path(__file__).resolve().parent.parent
NAIVE_KEYWORDS = ("қаңтар", "январ", "одкб", "жанаозен", "жаңаөзен", "кантар")


@pytest.fixture(scope="module")
def labeled() -> list[dict]:
    return yaml.safe_load((ROOT / "tests" / "data" / "qantar_eval.yml").read_text("utf-8"))


def scores(predicted: list[bool], labels: list[bool]) -> tuple[float, float]:
    tp = sum(p and t for p, t in zip(predicted, labels, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, labels, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, labels, strict=True))
    return tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0


def test_the_labeled_set_is_big_and_hard_enough(labeled):
    assert len(labeled) >= 80
    assert {a["lang"] for a in labeled} == {"ru", "kk"}
    hard = [a for a in labeled if not a["label"] and a["kind"] != "easy"]
    assert len(hard) >= 30
    silent = [a for a in labeled if a["label"] and a["kind"] == "relevant_no_keyword"]
    assert silent and not any(
        "қаңтар" in f"{a['title']} {a['lead']} {a['text']}".lower() for a in silent
    )


def test_qantar_precision_and_recall_beat_095_and_the_naive_baseline(labeled):
    (topic,) = [t for t in load_topics(ROOT / "seeds" / "topics.yml") if t.slug == "qantar"]
    labels = [bool(a["label"]) for a in labeled]
    ours = [
        bool(match_article([topic], title=a["title"], lead=a.get("lead") or "", text=a["text"]))
        for a in labeled
    ]
    naive = [
        any(k in f"{a['title']} {a.get('lead') or ''} {a['text']}".lower() for k in NAIVE_KEYWORDS)
        for a in labeled
    ]
    precision, recall = scores(ours, labels)
    naive_precision, naive_recall = scores(naive, labels)
    print(
        f"\nqantar on {len(labeled)} labeled articles ({sum(labels)} relevant): "
        f"precision {precision:.3f}, recall {recall:.3f}; "
        f"naive keywords: precision {naive_precision:.3f}, recall {naive_recall:.3f}"
    )
    missed = [a["id"] for a, p, t in zip(labeled, ours, labels, strict=True) if t and not p]
    false_alarms = [a["id"] for a, p, t in zip(labeled, ours, labels, strict=True) if p and not t]
    assert precision >= 0.95, false_alarms
    assert recall >= 0.95, missed
    assert precision > naive_precision
