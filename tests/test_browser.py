"""The pages people read, in a real headless Chromium against a real monitor Datasette server.

The server is `monitor.serve.serve` in a subprocess on a free 127.0.0.1 port, serving a database
crawled from the loopback Orda.kz replica (see test_datasette.build_monitor_db). Screenshots go
to tests/artifacts/ (git-ignored) for people to look at; the assertions read the DOM that
Chromium built (--dump-dom), after scripts ran.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import ROOT
from tests.test_datasette import SCRIPT_TITLE, build_monitor_db

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a closed network (see .ci/browser): no background connections, no sandbox as root.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
PWNED = ("<title>pwned", "data-pwned")  # what the payloads in titles and texts would leave


@pytest.fixture(scope="module", autouse=True)
def chromium_installed():
    # Never skip: `make test` installs chromium (.ci/browser); without it these tests fail.
    assert CHROMIUM is not None, "chromium is not installed: run .ci/browser (make test does)"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_monitor_db(tmp_path_factory.mktemp("browser") / "monitor.db")


@pytest.fixture(scope="module")
def server(built):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--db", str(built.path), "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(origin + "/-/versions.json", timeout=5):
                break
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode()[-2000:]) from None
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    yield origin
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chromium-profile")


def chromium(
    profile: Path, url: str, *args: str, budget: int = 3000
) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget}"]
    result = subprocess.run(
        [*cmd, *args, url], capture_output=True, text=True, timeout=60, cwd=profile
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def dom(profile: Path, url: str, budget: int = 3000) -> str:
    return chromium(profile, url, "--dump-dom", budget=budget).stdout


def screenshot(profile: Path, url: str, name: str, height: int = 1400, budget: int = 3000) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    chromium(profile, url, f"--screenshot={path}", f"--window-size=1280,{height}", budget=budget)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000  # a blank page is a few KB
    return path


def test_home_page(server, profile):
    page = dom(profile, server + "/")
    assert "Kazakhstan news monitor" in page
    assert "Қаңтар — the January 2022 events" in page  # topic name from seeds/topics.yml
    assert 'href="/topics/qantar"' in page
    assert "Orda.kz" in page
    screenshot(profile, server + "/", "home.png")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS[1:])
        yield launched
        launched.close()


@pytest.mark.parametrize(("width", "name"), [(1280, "desktop"), (390, "phone")])
def test_topic_page_reads_at_desktop_and_phone_width(server, browser, built, width, name):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(server + "/topics/qantar")
    assert page.locator("h1").inner_text() == "Қаңтар — the January 2022 events"
    # nothing wider than the screen: no sideways scrolling on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    why = page.locator("details.why").first
    assert why.get_attribute("open") is None and not why.locator("ul").is_visible()
    why.locator("summary").click()
    assert why.locator("ul").is_visible()
    links = {a.inner_text(): a.get_attribute("href") for a in page.locator(".topic-count a").all()}
    assert links["CSV"] == "/topics/qantar.csv" and links["JSON Lines"] == "/topics/qantar.jsonl"
    with page.expect_download() as download:
        page.locator(".topic-count a", has_text="CSV").click()
    assert download.value.suggested_filename == "qantar.csv"
    page.select_option("select[name=lang]", "kk")
    page.locator(".topic-filters input[type=submit]").click()
    page.wait_for_url("**/topics/qantar?*lang=kk*")
    assert page.locator(".topic-matches > li").count() >= 1
    assert all("Kazakh" in meta for meta in page.locator(".topic-matches .meta").all_inner_texts())
    page.goto(server + "/topics/qantar")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"topic-qantar-{name}.png", full_page=True)
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_outlets_page_fits_the_screen(server, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(server + "/outlets/")
    assert page.locator("h1").inner_text() == "Outlets and their health"
    assert "Orda.kz" in page.locator("table.outlets").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"outlets-{width}.png", full_page=True)
    page.close()


def test_article_page_is_readable(server, profile, built):
    url = f"{server}/monitor/articles/{built.edited_id}"
    page = dom(profile, url)
    assert '<div class="article-text">' in page and '<p class="lead">' in page
    assert "Read it at Orda.kz" in page
    assert '<section class="topic-evidence">' in page and "<q>" in page
    assert "Earlier versions" in page and '<details class="version">' in page
    screenshot(profile, url, "article.png", height=2000)


def test_search_page(server, profile):
    url = server + "/monitor/search?" + urlencode({"q": "оқиға"})
    page = dom(profile, url)
    assert "Қаңтар оқиғасынан бір жыл өтті" in page
    screenshot(profile, url, "search-kk.png")


def test_search_page_highlights_the_words_found(server, profile):
    url = server + "/monitor/search?" + urlencode({"q": "беспорядок"})
    page = dom(profile, url)
    results = page[page.index("<table") :]
    marked = re.findall(r"<mark>(.*?)</mark>", results)
    assert marked and all(m.lower().startswith("беспоряд") for m in marked)
    assert "Word forms are merged" in page
    screenshot(profile, url, "search-highlight.png")


def test_dashboard_draws_charts_offline(server, profile):
    url = server + "/-/dashboards/monitor"
    page = dom(profile, url, budget=8000)
    assert page.count('class="marks"') >= 3  # vega drew the three charts (bundled, no network)
    screenshot(profile, url, "dashboard.png", height=1600, budget=8000)


def test_markup_in_articles_is_shown_as_text_and_never_runs(server, profile, built, tmp_path):
    # The check can fail: the same markup, unescaped, does run in this browser.
    control = tmp_path / "control.html"
    control.write_text(
        "<html><head><title>control</title></head><body>"
        "<img src=x onerror=\"document.title='pwned';document.body.dataset.pwned='1'\">"
        "</body></html>",
        encoding="utf-8",
    )
    unsafe = dom(profile, control.as_uri())
    assert all(mark in unsafe for mark in PWNED), unsafe

    pages = {
        f"/monitor/articles/{built.img_id}": "&lt;img src=x onerror=",
        f"/monitor/articles/{built.script_id}": "&lt;script&gt;alert(1)&lt;/script&gt;",
        "/monitor/topic?topic=qantar": "&lt;img src=x onerror=",
        "/topics/qantar": "&lt;img src=x onerror=",
        "/monitor/search?" + urlencode({"q": "январских событий"}): "&lt;img src=x onerror=",
        "/monitor/articles?_sort_desc=published": "&lt;script&gt;alert(1)&lt;/script&gt;",
        "/": "&lt;img src=x onerror=",
    }
    for path, escaped in pages.items():
        page = dom(profile, server + path)
        assert escaped in page, path
        for mark in PWNED:
            assert mark not in page, (path, mark)
        assert SCRIPT_TITLE not in page, path
    screenshot(profile, f"{server}/monitor/articles/{built.img_id}", "article-markup.png")
