"""The hosts a crawl may fetch from: the outlet's own and those its registry entry allows.

A hostile or compromised outlet must not make the monitor read (and publish) pages from
anywhere else, above all from the machine's own network: a redirect, a meta refresh, a feed
or a sitemap that leads to `http://127.0.0.1:8080/admin` is refused. The rule:

- the URL is http or https, on the outlet's own host (the base_url's, with or without `www.`,
  either scheme; with its port when the base_url gives one) or on one of its `allowed_hosts`;
- and it is not on a loopback, link-local, private or otherwise special address (a literal IP,
  `localhost`, or a name that resolves to one), unless the base_url is itself on one: the local
  replicas of the tests and demo are on 127.0.0.1.

monitor.middlewares.HostGuardMiddleware applies it to every request of a crawl.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from monitor.outlets import Outlet

_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_local_address(host: str) -> bool:
    """True for a host that is the machine itself or its network: `localhost` or an IP address
    that is loopback, link-local, private, unspecified, multicast or reserved."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HostPolicy:
    """Whether a URL may be fetched for one outlet."""

    def __init__(self, outlet: Outlet):
        own = urlsplit(outlet.base_url)
        host = (own.hostname or "").lower()
        self.local_allowed = is_local_address(host)
        # (host, port): port None stands for the scheme's default port
        self.hosts: set[tuple[str, int | None]] = set()
        if own.port is not None:
            self.hosts.add((host, own.port))
        else:
            bare = host.removeprefix("www.")
            self.hosts |= {(bare, None), ("www." + bare, None)}
        for entry in outlet.allowed_hosts:
            allowed = urlsplit("//" + entry)
            self.hosts.add(((allowed.hostname or "").lower(), allowed.port))

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be fetched, or None when it may (its address aside: see
        `address_refusal` for a host name that resolves to a local address)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return f"not a valid URL: {url[:200]}"
        if parts.scheme not in _DEFAULT_PORTS:
            return f"not an http(s) URL: {url[:200]}"
        host = (parts.hostname or "").lower().rstrip(".")
        default = _DEFAULT_PORTS[parts.scheme]
        if (host, port or default) not in self.hosts and not (
            (host, None) in self.hosts and port in (None, default)
        ):
            return f"{parts.netloc} is not one of the outlet's hosts (see allowed_hosts)"
        if not self.local_allowed and is_local_address(host):
            return f"{parts.netloc} is a local or private address"
        return None

    def needs_lookup(self, host: str) -> bool:
        """Whether a host's address must be checked: a name, for an outlet on a public host."""
        return not self.local_allowed and not is_ip_literal(host)

    def address_refusal(self, host: str, address: str) -> str | None:
        """Why a host that resolves to `address` may not be fetched, or None."""
        if not self.local_allowed and is_local_address(address):
            return f"{host} resolves to a local or private address ({address})"
        return None
