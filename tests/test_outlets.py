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
        (GOOD + "    name: [a, b]\n", ["'demo'", "'name'", "expected a string"]),
        (GOOD + "    lang: 5\n", ["'demo'", "'lang'", "expected a string"]),
        (GOOD + "    lang: en\n", ["'demo'", "'lang'", "ru, kk"]),
        (GOOD + "    spider: nosuchspider\n", ["'demo'", "'spider'", "no spider named"]),
        (GOOD + "    spider: orda\n", ["'demo'", "'spider'", "only the outlet 'orda'"]),
        (GOOD + "    timezone: Mars/Base\n", ["'demo'", "'timezone'"]),
        (GOOD + "    feeds: /rss\n", ["'demo'", "'feeds'", "list of strings"]),
        (GOOD + "    allowed_hosts: [https://cdn.kz/]\n", ["'demo'", "'allowed_hosts'"]),
        (
            GOOD.replace("'^/news/\\d+'", "'^/news/(a+)+$'"),
            ["'demo'", "'article_pattern'", "repeats a repeated group"],
        ),
        (
            GOOD + "    extraction: {drop_text: ['^(a+)+$']}\n",
            ["'demo'", "'extraction.drop_text'", "repeats a repeated group"],
        ),
        (
            GOOD + "    extraction: {drop_text: ['^(a|aa)*$']}\n",
            ["'demo'", "'extraction.drop_text'", "repeats a repeated group"],
        ),
        (GOOD + "    extraction: {drop_text: ['(']}\n", ["'extraction.drop_text'", "invalid"]),
        (
            GOOD + "    extraction: {body: 'div[[['}\n",
            ["'demo'", "'extraction.body'", "invalid CSS selector"],
        ),
        (
            GOOD + "    extraction: {drop: ['div', 'p:nosuchpseudo']}\n",
            ["'demo'", "'extraction.drop'", "invalid CSS selector 'p:nosuchpseudo'"],
        ),
        (
            GOOD + "    extraction: {title: 'h1::attr('}\n",
            ["'demo'", "'extraction.title'", "invalid CSS selector"],
        ),
        (GOOD + "    extraction: {lead: [p]}\n", ["'extraction.lead'", "a string"]),
        (
            GOOD.replace("    feeds: [/rss]\n", "    feeds: [/rss]\n    name: a: b\n"),
            ["not valid YAML", "line 5,"],
        ),
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


def test_selectors_with_attr_and_allowed_hosts_load(tmp_path):
    body = GOOD + (
        "    allowed_hosts: [kaz.demo.kz, cdn.demo.kz:8443]\n"
        "    extraction:\n"
        "      body: div.article > p\n"
        "      published: time.pub::attr(datetime)\n"
        "      drop: ['ul:last-of-type', '[data-type=\"banner\"]']\n"
        "      drop_text: ['^Подписывайтесь']\n"
    )
    demo = outlets.load(write(tmp_path, body))["demo"]
    assert demo.allowed_hosts == ("kaz.demo.kz", "cdn.demo.kz:8443")
    assert demo.extraction["published"] == "time.pub::attr(datetime)"


def test_spiders_the_registry_knows_are_the_projects_spiders():
    """outlets.SPIDERS (checked without importing Scrapy) lists every spider and its outlet."""
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    loader = SpiderLoader.from_settings(get_project_settings())
    spiders = {name: loader.load(name).outlet_slug for name in loader.list()}
    assert spiders == outlets.SPIDERS
