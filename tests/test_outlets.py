"""The outlet registry: the shipped file is valid, and bad entries are refused by name and key."""

from pathlib import Path

import pytest

from monitor import outlets
from monitor.errors import MonitorError

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_registry_loads_with_orda():
    registry = outlets.load(ROOT / "seeds" / "outlets.yml")
    orda = registry["orda"]
    assert orda.spider == "orda" and orda.base_url == "https://orda.kz"
    assert orda.is_article("https://orda.kz/tokaev-dal-intervju-400101/")
    assert not orda.is_article("https://orda.kz/tokaev-dal-intervju-400101__trashed/")
    assert not orda.is_article("https://orda.kz/last-news/")
    assert not orda.is_article("https://example.com/tokaev-dal-intervju-400101/")


def test_base_url_replaces_the_origin_everywhere():
    orda = outlets.load(ROOT / "seeds" / "outlets.yml")["orda"].with_base_url(
        "http://127.0.0.1:8000/"
    )
    assert orda.url("/feed/") == "http://127.0.0.1:8000/feed/"
    assert orda.is_article("http://127.0.0.1:8000/some-news-400101/")


def write(tmp_path, body: str) -> Path:
    path = tmp_path / "outlets.yml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """outlets:
  - slug: demo
    base_url: https://demo.kz
    feeds: [/rss]
    article_pattern: '^/news/\\d+'
"""


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (GOOD + "    colour: red\n", ["'demo'", "'colour'", "unknown key"]),
        (GOOD.replace("    base_url: https://demo.kz\n", ""), ["'demo'", "'base_url'", "missing"]),
        (GOOD.replace("https://demo.kz", "demo.kz"), ["'demo'", "'base_url'"]),
        (GOOD.replace("'^/news/\\d+'", "'^/news/(\\d+'"), ["'demo'", "'article_pattern'", "regex"]),
        (GOOD + "    every: soon\n", ["'demo'", "'every'"]),
        (GOOD + "    cron: '61 * * * *'\n", ["'demo'", "'cron'"]),
        (GOOD + "    extraction: {bodyy: div}\n", ["'demo'", "'extraction.bodyy'"]),
        ("outlets: [\n", ["not valid YAML"]),
        ("something: else\n", ["'outlets:'"]),
    ],
)
def test_bad_entries_are_refused_naming_entry_and_key(tmp_path, body, words):
    path = write(tmp_path, body)
    with pytest.raises(MonitorError) as exc:
        outlets.load(path)
    message = str(exc.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("every", "seconds"), [("20", 1200), ("90s", 90), ("2h", 7200), ("1.5m", 90)]
)
def test_every_takes_minutes_or_a_duration(tmp_path, every, seconds):
    demo = outlets.load(write(tmp_path, GOOD + f"    every: {every}\n"))["demo"]
    assert demo.every == seconds


def test_a_good_entry_loads(tmp_path):
    demo = outlets.load(write(tmp_path, GOOD))["demo"]
    assert demo.spider == "news" and demo.every == outlets.DEFAULT_EVERY
