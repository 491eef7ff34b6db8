"""Scrapy's component lists: Scrapy's own defaults, minus what monitor switches off by name."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, clean_env

PROBE = """
import json, sys
from scrapy.settings import default_settings
from scrapy.utils.conf import build_component_list
from scrapy.utils.project import get_project_settings
from monitor.commands.crawl import without_disabled

settings = get_project_settings()
without_disabled(settings)
out = {"imported": [m for m in ("tldextract", "aiohttp", "twisted.conch") if m in sys.modules]}
for name in ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES"):
    out[name] = build_component_list(settings.get_component_priority_dict_with_base(name))
    out[name + "_SCRAPY"] = list(getattr(default_settings, name + "_BASE"))
print(json.dumps(out))
"""

OFF = {
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.memdebug.MemoryDebugger",
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
}
OURS = {
    "EXTENSIONS": {"monitor.recorder.CrawlRecorder"},
    "DOWNLOADER_MIDDLEWARES": {
        "monitor.middlewares.HostGuardMiddleware",
        "monitor.middlewares.RobotsTxtGate",
        "monitor.middlewares.CheapMetaRefreshMiddleware",
        "monitor.archive.ArchiveMiddleware",
    },
}


def test_every_scrapy_default_is_on_but_those_switched_off_and_those_are_not_imported():
    env = {**clean_env(), "SCRAPY_SETTINGS_MODULE": "monitor.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert found["imported"] == []
    for name, ours in OURS.items():
        scrapy_defaults = set(found[name + "_SCRAPY"])
        assert set(found[name]) == (scrapy_defaults - OFF) | ours
    middlewares = found["DOWNLOADER_MIDDLEWARES"]
    assert middlewares[0] == "monitor.middlewares.HostGuardMiddleware"  # before robots.txt
