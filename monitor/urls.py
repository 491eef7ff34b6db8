"""URL hygiene: one canonical form per article, whatever link led to it."""

from __future__ import annotations

from urllib.parse import urlsplit

from w3lib.url import canonicalize_url, url_query_cleaner

TRACKING_PARAMS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "fbclid",
    "gclid",
    "yclid",
    "ysclid",
    "_openstat",
    "from",
    "ref",
)


def clean_url(url: str) -> str:
    """Drop tracking parameters and the fragment; keep path and meaningful query as they are."""
    cleaned = url_query_cleaner(url, TRACKING_PARAMS, remove=True, keep_fragments=False)
    return cleaned


def canonical_url(url: str) -> str:
    """A comparison key for URLs: cleaned and canonicalised (sorted query, normalised escapes)."""
    return canonicalize_url(clean_url(url))


def origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def host(url: str) -> str:
    """The host (with port) of a URL, lower-cased."""
    return urlsplit(url).netloc.lower()
