"""Which hosts a crawl may fetch from (monitor/hosts.py)."""

from __future__ import annotations

import pytest

from monitor.hosts import HostPolicy, is_local_address
from monitor.outlets import Outlet


def policy(base_url: str, *allowed: str) -> HostPolicy:
    outlet = Outlet(
        slug="demo", name="Demo", base_url=base_url, article_pattern="^/", allowed_hosts=allowed
    )
    return HostPolicy(outlet)


@pytest.mark.parametrize(
    "url",
    [
        "https://orda.kz/news-1/",
        "http://orda.kz/news-1/",  # the other scheme
        "https://www.orda.kz/news-1/",  # with www.
        "https://orda.kz:443/news-1/",
        "https://ORDA.KZ/news-1/",
        "https://kaz.orda.kz/jana-1/",  # allowed
        "https://cdn.orda.kz:8443/feed.xml",  # allowed with its port
    ],
)
def test_the_outlets_own_and_allowed_hosts_may_be_fetched(url):
    assert policy("https://orda.kz", "kaz.orda.kz", "cdn.orda.kz:8443").refusal(url) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://evil.example/x", "not one of the outlet's hosts"),
        ("https://orda.kz.evil.example/x", "not one of the outlet's hosts"),
        ("https://orda.kz:8080/x", "not one of the outlet's hosts"),
        ("https://cdn.orda.kz/x", "not one of the outlet's hosts"),  # allowed on 8443 only
        ("http://127.0.0.1:8001/admin", "not one of the outlet's hosts"),
        ("http://localhost/", "not one of the outlet's hosts"),
        ("ftp://orda.kz/x", "not an http(s) URL"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("http://orda.kz:99999/x", "not a valid URL"),
    ],
)
def test_other_hosts_are_refused(url, why):
    assert why in policy("https://orda.kz", "kaz.orda.kz", "cdn.orda.kz:8443").refusal(url)


def test_local_addresses_are_refused_even_when_allowed_unless_the_outlet_is_local():
    public = policy("https://orda.kz", "10.0.0.5", "localhost:8080", "[::1]:8080")
    assert "local or private" in public.refusal("http://10.0.0.5/x")
    assert "local or private" in public.refusal("http://localhost:8080/x")
    assert "local or private" in public.refusal("http://[::1]:8080/x")
    # a name is looked up: one that resolves to the machine's own network is refused too
    assert public.needs_lookup("kaz.orda.kz")
    assert "resolves to a local" in public.address_refusal("kaz.orda.kz", "127.0.0.1")
    assert public.address_refusal("kaz.orda.kz", "195.210.46.10") is None
    replica = policy("http://127.0.0.1:5555", "127.0.0.1:5556")
    assert replica.refusal("http://127.0.0.1:5555/feed/") is None
    assert replica.refusal("http://127.0.0.1:5556/x") is None
    assert "not one of the outlet's hosts" in replica.refusal("http://127.0.0.1:5557/x")
    assert not replica.needs_lookup("127.0.0.1")


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("api.localhost", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1", True),
        ("::ffff:127.0.0.1", True),
        ("fd00::1", True),
        ("195.210.46.10", False),
        ("orda.kz", False),
    ],
)
def test_local_addresses(host, local):
    assert is_local_address(host) is local
